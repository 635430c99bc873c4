"""The Rostering page's world: the school at /schools/lincoln/rostering in a Chicago district, and its owner.

A module whose tests need another world (a district, a sandbox) defines its own `world`; pytest uses the module's.
"""
import pytest

from tests.factories import make_district, make_owner, make_school


@pytest.fixture
def world(app):
    school = make_school(make_district(timezone="America/Chicago"), slug="lincoln")
    return {"school": school, "owner": make_owner(school)}


@pytest.fixture
def owner(client, auth, world):
    """The school's owner, signed in."""
    auth.login(world["owner"].email)
    return world["owner"]
