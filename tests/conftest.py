"""Shared fixtures: the app on a real database (PostgreSQL in CI) and a real Redis."""
import os
import re
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from portal import create_app
from store.db import db
from portal.schema import rebuild_schema
from tests.factories import PASSWORD

DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _test_config(**overrides):
    config = {
        "TESTING": True,
        "PORTAL_ENV": "test",
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "PORTAL_FERNET_KEYS": "kR3aAqf0Zp9dlk5P5b1jmxz7vKAn6UqS3dC0w3xPfl8=",
        "MAIL_SUPPRESS_SEND": True,
        "SERVER_NAME": None,
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def _schema():
    """Build the schema once per run from the migrations, as production does."""
    app = create_app(_test_config())
    with app.app_context():
        rebuild_schema()
    return True


def _empty_tables():
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name != "postgresql":
        with db.engine.begin() as conn:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
        return
    truncate = text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    for attempt in range(3):
        try:
            with db.engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '20s'"))
                conn.execute(truncate)
            return
        except OperationalError:
            if attempt == 2:
                raise
            # A thread of an earlier test (a sync worker, a progress writer) still holds a transaction:
            # end those sessions so this test starts from empty tables. Pools reconnect (pool_pre_ping).
            with db.engine.begin() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            time.sleep(0.5)


@pytest.fixture
def app(_schema):
    app = create_app(_test_config())

    @app.teardown_request
    def _forget_cached_user(exc):
        # Requests reuse the test's app context, so g would carry the signed-in user between requests.
        from flask import g
        g.pop("_login_user", None)
        g.pop("csrf_token", None)

    with app.app_context():
        _empty_tables()
        app.redis.flushdb()
        yield app
        db.session.remove()
        db.engine.dispose()  # each test builds an app (and a pool); close its connections


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, email, password=PASSWORD):
        token = csrf_token(self._client)
        return self._client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def logout(self):
        return self._client.post("/logout", data={"csrf_token": csrf_token(self._client, "/")})


@pytest.fixture
def auth(client):
    return AuthActions(client)


def csrf_token(client, path="/login"):
    """Read a CSRF token the way a browser gets one: from a rendered page."""
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or \
        re.search(r'"X-CSRFToken": "([^"]+)"', page)
    assert match, "page carries no CSRF token"
    return match.group(1)
