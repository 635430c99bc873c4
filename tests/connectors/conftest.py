"""Fixtures for connector tests."""
import pytest

from connector_helpers import Sleeps


@pytest.fixture
def sleeps():
    return Sleeps()
