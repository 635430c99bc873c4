"""Helpers shared by the sync tests: connect a school to a sandbox, run a sync inline, read the directory."""
from contextlib import contextmanager

import pytest

from connectors.sandbox import oneroster_form_values, start_sandbox
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


def sync(school, trigger="manual", threshold_override=None) -> SyncRun:
    """Create a run and execute the job inline, as a worker would; returns the refreshed run.

    `threshold_override` is the archive threshold (percent) for this run only.
    """
    run = create_run(school, trigger=trigger)
    if threshold_override is not None:
        run.archive_threshold_override = threshold_override
        db.session.commit()
    run_sync(run.id)
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


@pytest.fixture
def no_backoff(monkeypatch):
    """Retries still happen, without the real back-off pauses."""
    import jobs.sync
    from connectors.client import OneRosterClient
    monkeypatch.setattr(jobs.sync, "make_client", lambda settings, policy: OneRosterClient(settings, sleep=lambda s: None))
