"""Plain factory functions for test data, one per model (as CTFd's gen_*): no fixture chains.

Each saves its row and returns it; pass `commit=False` to add many rows and commit once.
"""
import itertools
from datetime import date
from functools import cache

from werkzeug.security import generate_password_hash

from store.db import db
from store.models import (
    AuditEvent, BlackoutPeriod, District, DistrictAuditEvent, Person, RosterBundle, RosterConnection, School, Source,
    SyncChange, SyncIssue, SyncRun,
)
from store.secrets import encrypt_secret

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery"
# Test accounts only: a cheap hash, so signing in costs microseconds instead of scrypt's tenth of a second.
# The product's own hashing is untouched (test_auth.py::test_passwords_are_stored_with_a_strong_hash).
TEST_HASH_METHOD = "pbkdf2:sha256:1000"


@cache
def password_hash(password: str = PASSWORD) -> str:
    """The stored hash of a test account's password, computed once per password."""
    return generate_password_hash(password, method=TEST_HASH_METHOD)


def _save(row, commit=True):
    db.session.add(row)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return row


def make_district(name=None, timezone="America/Los_Angeles", commit=True) -> District:
    return _save(District(name=name or f"District {next(_seq)}", timezone=timezone), commit)


def make_school(district=None, name=None, slug=None, commit=True) -> School:
    n = next(_seq)
    school = School(district=district or make_district(), name=name or f"School {n}", slug=slug or f"school-{n}")
    return _save(school, commit)


def make_person(school=None, role="student", password=None, commit=True, **fields) -> Person:
    n = next(_seq)
    fields.setdefault("given_name", f"Given{n}")
    fields.setdefault("family_name", f"Family{n}")
    fields.setdefault("email", f"person{n}@example.org")
    fields.setdefault("district_id", school.district_id if school else None)
    person = Person(role=role, school_id=school.id if school else None, **fields)
    if password:
        person.password_hash = password_hash(password)
    return _save(person, commit)


def make_owner(school, email=None, **fields) -> Person:
    return make_person(school, role="owner", password=PASSWORD, email=email or f"owner{next(_seq)}@example.org",
                       **fields)


def make_district_manager(district, email=None) -> Person:
    return make_person(None, role="district_manager", password=PASSWORD, district_id=district.id,
                       given_name="Dana", family_name="Manager", email=email or f"dm{next(_seq)}@example.org")


def make_connection(school, secret="not-used-until-a-worker-runs", commit=True, **fields) -> RosterConnection:
    """A saved SIS connection, secret encrypted; no SIS is called until a worker runs a sync."""
    values = dict(vendor="aeries", url="https://sis.example.org/aeries/", client_id="c", sis_school_id="5")
    values.update(fields)
    return _save(RosterConnection(school_id=school.id, secret_encrypted=encrypt_secret(secret), **values), commit)


def make_source(district, secret="not-used-until-a-worker-runs", commit=True, **fields) -> Source:
    """A district's SIS source, secret encrypted; no SIS is called until something tests or syncs it."""
    values = dict(name=f"{district.name} — Aeries {next(_seq)}", vendor="aeries",
                  url="https://sis.example.org/aeries/", client_id="c")
    values.update(fields)
    return _save(Source(district_id=district.id, secret_encrypted=encrypt_secret(secret), **values), commit)


def map_school(school, source, sis_school_id, commit=True, **fields) -> RosterConnection:
    """The school's connection mapped to the source (made if missing), its own credential columns unused."""
    conn = db.session.scalar(db.select(RosterConnection).filter_by(school_id=school.id))
    if conn is None:
        conn = RosterConnection(school_id=school.id)
    conn.source_id, conn.sis_school_id = source.id, sis_school_id
    for name, value in fields.items():
        setattr(conn, name, value)
    return _save(conn, commit)


def make_run(school, commit=True, **fields) -> SyncRun:
    """A sync run row as the engine records it (no sync is run)."""
    fields.setdefault("trigger", "manual")
    return _save(SyncRun(school_id=school.id, **fields), commit)


def make_change(run, action="update", person=None, commit=True, **fields) -> SyncChange:
    """One field-level change of a run (`person` fills person_id and source_id)."""
    if person is not None:
        fields.setdefault("person_id", person.id)
        fields.setdefault("source_id", person.source_id or "")
    return _save(SyncChange(run_id=run.id, action=action, **fields), commit)


def make_issue(run, kind="bad_record", message="Record has no family name", commit=True, **fields) -> SyncIssue:
    return _save(SyncIssue(run_id=run.id, kind=kind, message=message, **fields), commit)


def make_audit_event(school, action, actor=None, detail="", commit=True, **fields) -> AuditEvent:
    return _save(AuditEvent(school_id=school.id, actor_id=actor.id if actor else None, action=action, detail=detail,
                            **fields), commit)


def make_district_audit_event(district, action, actor=None, detail="", commit=True) -> DistrictAuditEvent:
    return _save(DistrictAuditEvent(district_id=district.id, actor_id=actor.id if actor else None, action=action,
                                    detail=detail), commit)


def make_pause(school, starts_on: date, ends_on: date, note="", commit=True) -> BlackoutPeriod:
    """A seasonal pause saved directly (the page's rules are tested through portal.roster.blackouts)."""
    return _save(BlackoutPeriod(school_id=school.id, starts_on=starts_on, ends_on=ends_on, note=note), commit)


def make_csv_connection(school, commit=True, **fields) -> RosterConnection:
    """A school on the OneRoster CSV method (no SIS secret); `sis_school_id` names its org in orgs.csv."""
    values = dict(method="oneroster_csv", vendor="oneroster", url="", client_id="", sis_school_id="s1",
                  csv_sync_on_receipt="now")
    values.update(fields)
    return _save(RosterConnection(school_id=school.id, secret_encrypted=None, **values), commit)


def make_bundle(school, commit=True, **fields) -> RosterBundle:
    """A bundle row as receipt records it (no file behind it unless `stored_path` names one)."""
    values = dict(via="upload", filename="bundle.zip", stored_path="", size=0, status="valid", users_mode="bulk",
                  version="1.1")
    values.update(fields)
    return _save(RosterBundle(school_id=school.id, **values), commit)
