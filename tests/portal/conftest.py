"""The Rostering page's world: the school at /schools/lincoln/rostering in a Chicago district, and its owner.

A module whose tests need another world (a district, a sandbox) defines its own `world`; pytest uses the module's.
"""
import pytest

from tests.factories import make_district, make_owner, make_school
from tests.sftp_support import running_drop


@pytest.fixture
def world(app):
    school = make_school(make_district(timezone="America/Chicago"), slug="lincoln")
    return {"school": school, "owner": make_owner(school)}


@pytest.fixture
def owner(client, auth, world):
    """The school's owner, signed in."""
    auth.login(world["owner"].email)
    return world["owner"]


@pytest.fixture
def drop(app, bundle_store, tmp_path):
    """The SFTP drop running (real asyncssh server on a free port), bundles stored under tmp_path."""
    with running_drop(app, tmp_path) as running:
        yield running
