"""Helpers shared by the sync tests: connect a school to a sandbox, run a sync inline, read the directory."""
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest

from connectors.client import OneRosterClient
from connectors.sandbox import oneroster_form_values, start_sandbox
from connectors.sandbox.data import iso
from jobs.sync import run_sync
from store.db import db
from store.models import Person, SyncChange, SyncIssue, SyncRun
from portal.rostering import service
from jobs.connection import get_connection
from jobs.runs import create_run

SETTINGS = dict(sync_students=True, sync_teachers=True, sync_staff=True, sync_admins=True, sync_parents=False,
                auto_update=True, archive=False, automatic=False, sync_time="02:00", archive_threshold_percent=10.0)


@contextmanager
def running_sandbox(vendor="oneroster", schools=2, students=120, seed=7, **options):
    """A sandbox SIS over real HTTP, small enough for tests."""
    box = start_sandbox(vendor, schools=schools, students=students, seed=seed, **options)
    try:
        yield box
    finally:
        box.stop()


def sandbox_values(sandbox, school_index=0) -> dict:
    return oneroster_form_values(sandbox.info, school_index)


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


def directory(school) -> dict:
    """source_id (or 'hand:<id>') → Person for the school."""
    people = db.session.scalars(db.select(Person).where(Person.school_id == school.id)).all()
    return {p.source_id or f"hand:{p.id}": p for p in people}


def snapshot(school) -> list[tuple]:
    """Everything a user could see change about the directory."""
    return sorted((p.id, p.source_id or "", p.role, p.given_name, p.family_name, p.email, p.status,
                   p.parent_name) for p in directory(school).values())


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


def changes(run, action=None) -> list[SyncChange]:
    query = db.select(SyncChange).where(SyncChange.run_id == run.id)
    if action:
        query = query.where(SyncChange.action == action)
    return db.session.scalars(query).all()


def issues(run) -> list[SyncIssue]:
    return db.session.scalars(db.select(SyncIssue).where(SyncIssue.run_id == run.id)).all()


def quick_client(settings, **options) -> OneRosterClient:
    """A client whose retries still happen, without the real back-off pauses."""
    return OneRosterClient(settings, sleep=lambda s: None, **options)


CLIENTS = {"default": None}  # the client factory sync() gives the job (None: the job's own make_client)


@pytest.fixture
def no_backoff(monkeypatch):
    """Every sync() of the test uses quick_client."""
    monkeypatch.setitem(CLIENTS, "default", quick_client)


def change_sis_person(sandbox, sid: str, **fields) -> dict:
    """The SIS edits one of its records (raw OneRoster names, e.g. email, givenName) and bumps dateLastModified."""
    data = sandbox.data
    with data.lock:
        user = data.users[sid]
        user.update(fields, dateLastModified=iso(datetime.now(timezone.utc)))
        data.changed([sid])
        return dict(user)
