"""Helpers shared by the test modules (fixtures live in conftest.py, test data in factories.py).

The test app's settings, signing in, a sandbox SIS over real HTTP, a sync run inline as a worker would, and
reading back what it did.
"""
import os
import re
import socket
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from rq import SimpleWorker
from sqlalchemy import create_engine, make_url
from sqlalchemy import text as sql

from connectors.client import OneRosterClient
from connectors.sandbox import oneroster_form_values, start_sandbox
from connectors.sandbox.data import iso
from jobs.sync import run_sync
from store.db import db
from store.models import DistrictAuditEvent, Person, SyncChange, SyncIssue, SyncRun
from portal.extensions import mail
from portal.rostering import service
from jobs.runs import create_run
from jobs.connection import get_connection
from tests.factories import (PASSWORD, make_connection, make_district, make_issue, make_owner, make_run, make_school,
                             make_source)



def worker_urls(database_url: str, redis_url: str, worker: str) -> tuple[str, str]:
    """Each pytest-xdist worker's own database and Redis db: gwN suffixes the database name with _gwN (an SQLite
    file name too) and takes Redis db base+1+N. Serial runs (no worker) use the URLs as given."""
    if not worker:
        return database_url, redis_url
    n = int(worker.removeprefix("gw"))
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        stem, dot, ext = (url.database or "test.db").rpartition(".")
        url = url.set(database=f"{stem}_{worker}.{ext}" if dot else f"{ext}_{worker}")
    else:
        url = url.set(database=f"{url.database}_{worker}")
    redis = urlsplit(redis_url)
    db_number = int(redis.path.strip("/") or 0) + 1 + n
    if db_number > 15:
        raise pytest.UsageError(f"Worker {worker} would need Redis db {db_number}, past Redis's 0-15: point "
                                f"TEST_REDIS_URL at a db of {14 - n} or lower.")
    return url.render_as_string(hide_password=False), redis._replace(path=f"/{db_number}").geturl()


DATABASE_URL, REDIS_URL = worker_urls(
    os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13"),
    os.environ.get("PYTEST_XDIST_WORKER", ""))
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"


def app_config(**overrides) -> dict:
    """The app's settings for tests: the test database and Redis, mail suppressed."""
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


@contextmanager
def sqlite_school(path: Path, name: str, slug: str):
    """A school in a fresh SQLite database of its own (the embedded default), its app context pushed meanwhile."""
    from portal import create_app
    from portal.schema import rebuild_schema
    from store.models import District, School
    app = create_app(app_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}"))
    with app.app_context():
        rebuild_schema()
        district = District(name=name, timezone="UTC")
        school = School(district=district, name=f"{name} High", slug=slug)
        db.session.add_all([district, school])
        db.session.commit()
        try:
            yield school
        finally:
            db.session.remove()
            db.engine.dispose()


def ensure_database(database_url: str) -> None:
    """Create the PostgreSQL test database if it is missing (an xdist worker's, on a fresh machine)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return
    engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.scalar(sql("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}) is None:
                conn.execute(sql(f'CREATE DATABASE "{url.database}"'))
    finally:
        engine.dispose()


# -- signing in -------------------------------------------------------------------------------

def csrf_token(client, path="/login"):
    """Read a CSRF token the way a browser gets one: from a rendered page."""
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or \
        re.search(r'"X-CSRFToken": "([^"]+)"', page)
    assert match, "page carries no CSRF token"
    return match.group(1)


def page_token(browser, url: str) -> str:
    """The CSRF token of a page fetched over real HTTP (a requests.Session, as a browser keeps cookies)."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|"X-CSRFToken": "([^"]+)"',
                      browser.get(url).text)
    assert match, "page carries no CSRF token"
    return match.group(1) or match.group(2)


# What a locked-out sign-in says (the sign-in hardening and lockout tests share it).
LOCKED = "Too many sign-in attempts. Try again in 15 minutes or reset your password."


def login(client, email, password=PASSWORD, **environ):
    """Sign in through the form; `environ` sets request details such as REMOTE_ADDR."""
    token = csrf_token(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base=environ)


def text(response) -> str:
    return response.get_data(as_text=True)


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, email, password=PASSWORD):
        token = csrf_token(self._client)
        return self._client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def logout(self):
        return self._client.post("/logout", data={"csrf_token": csrf_token(self._client, "/")})


def assert_served_signed_in(response, endpoint) -> None:
    """A rightful manager is served: never bounced to the sign-in page, never refused (409 and 422 are honest
    answers to the test's data, such as a run that is not waiting for review)."""
    assert response.status_code < 400 or response.status_code in (409, 422), (endpoint, response.status_code)
    bounced = response.headers.get("Location", "") + response.headers.get("HX-Redirect", "")
    assert "/login" not in bounced, (endpoint, bounced)


# Hostile values for every text input: the CLI's and the web forms' bad-input tests share them.
BAD_VALUES = {
    "empty": "",
    "huge": "a" * 100_000,
    "unicode": "Zoë Ñandú 名前 😀 \u202eevil",
    "script": "<script>alert(1)</script>",
    "sql": "' OR 1=1 --",
    "nul": "bad\x00name",
    "spaces": "   ",
}


# -- the sandbox SIS --------------------------------------------------------------------------

@contextmanager
def running_sandbox(vendor="oneroster", schools=2, students=120, seed=7, **options):
    """A sandbox SIS over real HTTP, small enough for tests."""
    box = start_sandbox(vendor, schools=schools, students=students, seed=seed, **options)
    try:
        yield box
    finally:
        box.stop()


def sandbox_fixture(vendor="oneroster", *, scope="function", configs=None, **options):
    """A fixture serving a sandbox SIS for `scope`; with `configs` ({id: options}), once per config.

    Assign it to the fixture's name in a test module: `sandbox = sandbox_fixture(seed=7, scope="module")`.
    """
    @pytest.fixture(scope=scope, params=list(configs) if configs else None)
    def _sandbox(request):
        extra = configs[request.param] if configs else {}
        with running_sandbox(**{"vendor": vendor, **options, **extra}) as box:
            yield box
    return _sandbox


def sandbox_source(district, sandbox, **fields):
    """The district's SIS source on the sandbox (as a generic OneRoster provider); schools map to it."""
    info = sandbox.info
    return make_source(district, secret=info["client_secret"], vendor="oneroster", url=info["base_url"],
                       token_url=info["token_url"], auth_mode="oauth2", client_id=info["client_id"], **fields)


def sandbox_values(sandbox, school_index=0) -> dict:
    return oneroster_form_values(sandbox.info, school_index)


def aeries_form(sandbox, **overrides) -> dict:
    """The Rostering form as an owner types the Aeries sandbox's first school (overrides win)."""
    info = sandbox.info
    return {"vendor": "aeries", "method": "oneroster", "url": info["base_url"] + "/", "client_id": info["client_id"],
            "client_secret": info["client_secret"], "school_id": info["school_ids"][0], **overrides}


def post_connection(client, data, htmx=True, slug="lincoln"):
    """Save the Rostering page's connection form as the signed-in user (with the page's CSRF token)."""
    page = f"/schools/{slug}/rostering"
    return client.post(f"{page}/connection", data=dict(data, csrf_token=csrf_token(client, page)),
                       headers={"HX-Request": "true"} if htmx else {})


def district_log(district, action) -> list[str]:
    """The details of the district audit log's events of one action."""
    return list(db.session.scalars(db.select(DistrictAuditEvent.detail).where(
        DistrictAuditEvent.district_id == district.id, DistrictAuditEvent.action == action)))


def page_form(client, sandbox, vendor, page, **more) -> dict:
    """The Rostering form's fields for the sandbox as an owner types them for `vendor`, with `page`'s CSRF token."""
    info = sandbox.info
    data = {"vendor": vendor, "method": "oneroster", "url": info["base_url"], "client_id": info["client_id"],
            "client_secret": info["client_secret"], "school_id": info["school_ids"][0],
            "csrf_token": csrf_token(client, page)}
    if vendor == "infinite-campus":
        data["app_name"] = info["app_name"]
    elif vendor != "classlink":  # ClassLink's Roster Server names no token URL and signs with OAuth 1.0a
        data.update(token_url=info["token_url"], auth_mode="oauth2")
    return {**data, **more}


def expected_people(sandbox, school_index=0, roles=("student", "teacher", "staff", "school_admin")):
    """The sandbox's truth: active, non-parent people of the school."""
    return {p.source_id: p for p in sandbox.people(school_index)
            if p.role in roles and not p.is_leaving}


def add_sis_person(sandbox, like: str, **fields) -> str:
    """A new SIS person in `like`'s school and role, with their own sourcedId, SIS id and email unless
    `fields` (raw OneRoster names, e.g. email, identifier, givenName) says otherwise."""
    data = sandbox.data
    with data.lock:
        n = len(data.users)
        sid = f"{like}-new-{n}"
        own = {"sourcedId": sid, "identifier": f"N{n:06d}", "email": f"new.person{n}@sandbox.example.org",
               "username": f"new.person{n}", "userIds": []}
        data.users[sid] = {**data.users[like], **own, **fields}
        data.changed([sid])
    return sid


# -- a sync, run inline -----------------------------------------------------------------------

SETTINGS = dict(sync_students=True, sync_teachers=True, sync_staff=True, sync_admins=True, sync_parents=False,
                auto_update=True, archive=False, automatic=False, sync_time="02:00", archive_threshold_percent=10.0)


def connect(school, sandbox, school_index=0, **flags):
    """Save a connection to the sandbox's school and the given sync toggles."""
    conn = service.save_connection(school, "oneroster", sandbox_values(sandbox, school_index), actor=None)
    return service.save_sync_settings(conn, **{**SETTINGS, **flags})


def set_flags(school, **flags):
    conn = get_connection(school)
    current = {k: getattr(conn, k) for k in SETTINGS}
    return service.save_sync_settings(conn, **{**current, **flags})


def exclude_roles(school, update=(), archive=()):
    """Leave roles out of Auto update and/or Archive, as the Rostering page's role rules do."""
    conn = get_connection(school)
    conn.no_update_roles, conn.no_archive_roles = ",".join(update), ",".join(archive)
    db.session.commit()
    return conn


def sync(school, trigger="manual", threshold_override=None, client_factory=None) -> SyncRun:
    """Create a run and execute the job inline, as a worker would; returns the refreshed run.

    `threshold_override` is the archive threshold (percent) for this run only; `client_factory` builds the
    job's SIS client (default: CLIENTS["default"], else the job's own).
    """
    run = create_run(school, trigger=trigger)
    if threshold_override is not None:
        run.archive_threshold_override = threshold_override
        db.session.commit()
    run_sync(run.id, client_factory=client_factory or CLIENTS["default"])
    db.session.expire_all()
    return db.session.get(SyncRun, run.id)


def quick_client(settings, **options) -> OneRosterClient:
    """A client whose retries still happen, without the real back-off pauses."""
    return OneRosterClient(settings, sleep=lambda s: None, **options)


CLIENTS = {"default": None}  # the client factory sync() gives the job (None: the job's own make_client)


def change_sis_person(sandbox, sid: str, **fields) -> dict:
    """The SIS edits one of its records (raw OneRoster names, e.g. email, givenName) and bumps dateLastModified."""
    data = sandbox.data
    with data.lock:
        user = data.users[sid]
        user.update(fields, dateLastModified=iso(datetime.now(timezone.utc)))
        data.changed([sid])
        return dict(user)


def directory(school) -> dict:
    """source_id (or 'hand:<id>') → Person for the school."""
    people = db.session.scalars(db.select(Person).where(Person.school_id == school.id)).all()
    return {p.source_id or f"hand:{p.id}": p for p in people}


def snapshot(school) -> list[tuple]:
    """Everything a user could see change about the directory."""
    return sorted((p.id, p.source_id or "", p.role, p.given_name, p.family_name, p.email, p.status,
                   p.parent_name) for p in directory(school).values())


def changes(run, action=None) -> list[SyncChange]:
    """The run's change log as the run page shows it (skip rows, who was left alone and why, only when asked)."""
    query = db.select(SyncChange).where(SyncChange.run_id == run.id)
    query = query.where(SyncChange.action == action) if action else query.where(SyncChange.action != "skip")
    return db.session.scalars(query).all()


def issues(run) -> list[SyncIssue]:
    return db.session.scalars(db.select(SyncIssue).where(SyncIssue.run_id == run.id)).all()


# -- what a fault may leave behind ------------------------------------------------------------

def people(school) -> list[tuple]:
    db.session.expire_all()
    return sorted((p.source_id or "", p.given_name, p.family_name, p.status) for p in
                  db.session.scalars(db.select(Person).where(Person.school_id == school.id)))


def assert_nothing_running(school):
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(SyncRun.id)).where(
        SyncRun.school_id == school.id, SyncRun.status.in_(("queued", "running")))) == 0


def assert_failed_and_unchanged(school, run, before, reason_starts: str = "") -> None:
    """The run failed with a readable reason that says nothing changed, and nothing did."""
    assert run.status == "failed"
    assert run.error_message.startswith(reason_starts) and run.error_message.endswith("Nothing was changed.")
    assert people(school) == before
    assert_nothing_running(school)


def assert_as_after_a_complete_sync(school, sandbox, run):
    """The run succeeded, the directory is the SIS's truth, and a clean sync finds nothing left to do."""
    assert run.status == "succeeded", run.error_message
    truth = sorted((sid, p.given_name, p.family_name, "active") for sid, p in expected_people(sandbox).items())
    assert [p for p in people(school) if p[0]] == truth
    sandbox.clear_faults()
    again = sync(school)
    assert (again.status, again.created, again.updated, again.archived) == ("succeeded", 0, 0, 0)
    assert_nothing_running(school)


# -- the nightly schedule ---------------------------------------------------------------------

def scheduled_school(district=None, sync_time="02:00", automatic=True, tz="America/Los_Angeles"):
    """A school with a saved connection (no SIS is called: nothing works the queue in these tests)."""
    school = make_school(district or make_district(timezone=tz))
    make_connection(school, secret="secret", vendor="oneroster", url="http://127.0.0.1:9/oneroster",
                    client_id="client", sis_school_id="1", automatic=automatic, sync_time=sync_time)
    return school


def nightly_runs(school=None):
    query = db.select(SyncRun).where(SyncRun.trigger == "nightly").order_by(SyncRun.id)
    if school is not None:
        query = query.where(SyncRun.school_id == school.id)
    db.session.expire_all()
    return db.session.scalars(query).all()


# -- the browser ------------------------------------------------------------------------------

def screenshot(page, name: str) -> Path:
    """Full-page PNG. caret="initial": Playwright otherwise hides the caret with an injected style, which the
    portal's CSP refuses now and then (a console error the page fixture counts) while an input has focus."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = (page.viewport_size or {}).get("width", 1280)
    path = SCREENSHOTS / (f"{name}.png" if width == 1280 else f"{name}-{width}px.png")  # the phone run's own file
    page.screenshot(path=str(path), full_page=True, caret="initial")
    return path


def sign_in(page, email, password):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


# -- Test connection as the page runs it ---------------------------------------------------------

def finish_connection_test(app, client, queued):
    """The poll's response once a worker has run the test that `queued` (the POST's 202) started."""
    html = queued.get_data(as_text=True)
    assert queued.status_code == 202 and 'hx-trigger="every 1s"' in html, (queued.status_code, html[:300])
    poll = re.search(r'hx-get="([^"]+)"', html).group(1)
    SimpleWorker([app.check_queue], connection=app.redis).work(burst=True)
    return client.get(poll, headers={"HX-Request": "true"})


# -- Report emails -------------------------------------------------------------------------------

def use_mail_server(app, port):
    app.config.update(MAIL_SUPPRESS_SEND=False, MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=5)
    mail.init_app(app)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def opted_in_owner(school, **kwargs):
    owner = make_owner(school, **kwargs)
    owner.sync_report_opt_in = True
    db.session.commit()
    return owner


def finished_run(school, status="succeeded", issues=0, **fields):
    start = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    run = make_run(school, trigger="nightly", status=status, phase=status, local_date="2026-03-02", started_at=start,
                   finished_at=start + timedelta(seconds=75), fetched=120, created=7, updated=3, unchanged=108,
                   archived=2, issues=issues, commit=False, **fields)
    for n in range(issues):
        make_issue(run, source_id=f"stu-{n:03d}", message=f"Record {n} has no family name", commit=False)
    db.session.commit()
    return run


def reload_run(run_id) -> SyncRun:
    db.session.expire_all()
    return db.session.get(SyncRun, run_id)


def sync_bundle(school, bundle, trigger="manual") -> SyncRun:
    """Sync (or preview) one CSV bundle inline, as a worker would; returns the refreshed run."""
    run = create_run(school, trigger=trigger, bundle_id=bundle.id)
    run_sync(run.id)
    db.session.expire_all()
    return db.session.get(SyncRun, run.id)
