"""Bulk inserts (value rows through COPY): whatever an SIS value holds, it is stored exactly as sent."""
from datetime import datetime, timezone

from jobs.apply import apply_plan
from jobs.bulk import bulk_insert
from jobs.fields import FIELDS, pack
from jobs.plan import SyncPlan
from store.db import db
from store.models import Person, SyncChange
from tests.factories import make_run, make_school

# Each of these is special in PostgreSQL's COPY text format (or looks like its NULL marker).
AWKWARD = ["tab\there", "line\nbreak", "carriage\rreturn", "back\\slash", "\\N", "\\t", "trailing\\", "",
           "Zoë Ñúñez 李", "quote \" and , comma"]


def test_awkward_values_and_nulls_round_trip(app):
    school = make_school()
    run = make_run(school)
    rows = [{"run_id": run.id, "person_id": None, "source_id": f"s{i}", "action": "update", "field": "given_name",
             "before": value, "after": value[::-1]} for i, value in enumerate(AWKWARD)]
    bulk_insert(SyncChange.__table__, rows)
    db.session.commit()
    stored = {c.source_id: c for c in db.session.scalars(db.select(SyncChange).where(SyncChange.run_id == run.id))}
    assert len(stored) == len(AWKWARD)
    for i, value in enumerate(AWKWARD):
        change = stored[f"s{i}"]
        assert (change.before, change.after, change.person_id) == (value, value[::-1], None)


def test_a_first_import_stores_names_with_tabs_and_backslashes_exactly(app):
    school = make_school()
    run = make_run(school)
    modified = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
    names = {"a": ("Tab\tby", "O\\Brien"), "b": ("Multi\nline", "\\N"), "c": ("Plain", "Person")}
    creates = []
    for sid, (given, family) in names.items():
        values = dict.fromkeys(FIELDS, "")
        values.update(role="student", given_name=given, family_name=family, email=f"{sid}@example.org")
        creates.append((sid, pack(tuple(values[f] for f in FIELDS)), modified if sid != "c" else None))
    plan = SyncPlan(fields=FIELDS, creates=creates)
    apply_plan(run.id, school.id, school.district_id, plan, full=True, connection_id=0)
    people = {p.source_id: p for p in db.session.scalars(db.select(Person).where(Person.school_id == school.id))}
    assert {sid: (p.given_name, p.family_name) for sid, p in people.items()} == names
    assert people["a"].source_updated_at == modified and people["c"].source_updated_at is None
    assert people["a"].status == "active" and people["a"].sync_enabled and people["a"].middle_name == ""
    assert len({p.session_token for p in people.values()}) == 3  # every person gets their own token
    created = db.session.scalars(db.select(SyncChange).where(SyncChange.run_id == run.id,
                                                             SyncChange.action == "create")).all()
    assert {c.after for c in created} == {f"{g} {f}" for g, f in names.values()}
    assert {c.person_id for c in created} == {p.id for p in people.values()}



def test_a_previews_create_log_keeps_names_with_tabs_and_backslashes_exactly(app):
    """A preview's early writer logs its creates without writing anyone; awkward names take the escaped path."""
    from jobs.early_people import EarlyPeople
    school = make_school()
    run = make_run(school)
    names = {"a": ("Tab\tby", "O\\Brien"), "b": ("Multi\nline", "\\N"), "c": ("Plain", "Person")}
    creates = []
    for sid, (given, family) in names.items():
        values = dict.fromkeys(FIELDS, "")
        values.update(role="student", given_name=given, family_name=family, email=f"{sid}@example.org")
        creates.append((sid, pack(tuple(values[f] for f in FIELDS)), None))
    EarlyPeople(run.id, school.id, school.district_id, FIELDS, log_only=True).insert(creates, db.session.connection())
    db.session.commit()
    created = db.session.scalars(db.select(SyncChange).where(SyncChange.run_id == run.id,
                                                             SyncChange.action == "create")).all()
    assert {c.source_id: c.after for c in created} == {sid: f"{g} {f}" for sid, (g, f) in names.items()}
    assert all(c.person_id is None for c in created)
    assert db.session.scalar(db.select(db.func.count(Person.id)).where(Person.school_id == school.id)) == 0


def test_a_first_import_of_plain_values_stores_them_exactly(app):
    """Plain values go to COPY as text lines built by joining (jobs.apply.plain_creates), not row by row."""
    from jobs.apply import plain_creates
    school = make_school()
    run = make_run(school)
    aware = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
    naive = datetime(2026, 2, 7, 9, 30)  # taken as UTC
    names = {"a": ("Zoë", "Ñúñez 李"), "b": ("quote \"", "and , comma"), "c": ("N", "NULL"), "d": ("", "Solo")}
    when = {"a": aware, "b": naive, "c": None, "d": aware}
    creates = []
    for sid, (given, family) in names.items():
        values = dict.fromkeys(FIELDS, "")
        values.update(role="student", given_name=given, family_name=family, email=f"{sid}@example.org", grade="05")
        creates.append((sid, pack(tuple(values[f] for f in FIELDS)), when[sid]))
    assert plain_creates(creates)
    plan = SyncPlan(fields=FIELDS, creates=creates)
    apply_plan(run.id, school.id, school.district_id, plan, full=True, connection_id=0)
    people = {p.source_id: p for p in db.session.scalars(db.select(Person).where(Person.school_id == school.id))}
    assert {sid: (p.given_name, p.family_name) for sid, p in people.items()} == names
    assert (people["a"].source_updated_at, people["b"].source_updated_at, people["c"].source_updated_at) == \
        (aware, naive.replace(tzinfo=timezone.utc), None)
    person = people["a"]
    assert (person.status, person.archived_by, person.sync_enabled, person.sync_report_opt_in, person.grade,
            person.middle_name, person.email, person.district_id) == \
        ("active", "", True, False, "05", "", "a@example.org", school.district_id)
    assert person.created_at is not None and person.created_at == person.updated_at
    assert len({p.session_token for p in people.values()}) == 4 and all(len(p.session_token) == 32
                                                                       for p in people.values())
    created = db.session.scalars(db.select(SyncChange).where(SyncChange.run_id == run.id,
                                                             SyncChange.action == "create")).all()
    assert {c.source_id: (c.person_id, c.after, c.field, c.before) for c in created} == \
        {sid: (p.id, f"{names[sid][0]} {names[sid][1]}".strip(), "", "") for sid, p in people.items()}
    assert db.session.get(type(run), run.id).created == 4
