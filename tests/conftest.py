"""Shared fixtures: the app on a real database (PostgreSQL in CI) and a real Redis."""
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from jobs.schedule import note_tick
from portal import create_app
from store.db import db
from portal.schema import rebuild_schema
from tests.factories import make_school
from tests import support
from tests.support import DATABASE_URL, AuthActions, app_config, connect, ensure_database, sync


def pytest_collection_modifyitems(items):
    """With pytest-xdist's --dist loadgroup, tests that share a costly or timing-sensitive resource stay on one
    worker: the browser tests (one Chromium, one live server) and the fault tests (killed workers and Redis
    servers, tight time-outs). Everything else is spread over the workers."""
    for item in items:
        if item.path.parent.name == "browser":
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif item.path.name.startswith("test_fault_"):
            item.add_marker(pytest.mark.xdist_group("faults"))


@pytest.fixture(scope="session")
def _schema():
    """Build the schema once per run (per xdist worker) from the migrations, as production does."""
    ensure_database(DATABASE_URL)
    app = create_app(app_config())
    with app.app_context():
        rebuild_schema()
        db.engine.dispose()
    return True


@pytest.fixture(scope="session")
def _session_app(_schema):
    """One app for the whole run: building one costs a few tenths of a second, and tests only read it (the
    `app` fixture puts back any setting a test changes)."""
    app = create_app(app_config())

    @app.teardown_request
    def _forget_cached_user(exc):
        # Requests reuse the test's app context, so g would carry the signed-in user (or one client's CSRF
        # token) between requests.
        from flask import g
        g.pop("_login_user", None)
        g.pop("csrf_token", None)

    yield app
    with app.app_context():
        db.engine.dispose()


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
def app(_session_app):
    """The app with empty tables and an empty Redis db; settings and extensions a test changes are put back."""
    app = _session_app
    config, extensions = dict(app.config), dict(app.extensions)
    try:
        with app.app_context():
            _empty_tables()
            app.redis.flushdb()
            note_tick(app.redis, datetime.now(timezone.utc))  # as a running scheduler would have (jobs.schedule)
            yield app
            db.session.remove()
    finally:
        app.config.clear()
        app.config.update(config)
        app.extensions.clear()
        app.extensions.update(extensions)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def auth(client):
    return AuthActions(client)



@pytest.fixture
def no_backoff(monkeypatch):
    """Every sync() of the test uses quick_client: retries still happen, without the real back-off pauses."""
    monkeypatch.setitem(support.CLIENTS, "default", support.quick_client)


@pytest.fixture
def synced_school(app, sandbox):
    """A school synced once from the module's `sandbox` (archive on), whose SIS has changed since: the fault
    tests' starting point. The next sync would change people if it got that far."""
    sandbox.clear_faults()
    school = make_school()
    connect(school, sandbox, archive=True)
    assert sync(school).status == "succeeded"
    sandbox.mutate(change_fraction=0.2, seed=3)
    yield school
    sandbox.clear_faults()


@pytest.fixture
def bundle_store(app, tmp_path):
    """Received CSV bundles are kept under the test's own folder."""
    app.config["BUNDLE_DIR"] = str(tmp_path / "bundles")
    return tmp_path / "bundles"
