"""Loading a school's directory stays a lookup of the few sign-in accounts elsewhere, whatever the district's size
and whether or not PostgreSQL has statistics for the person table yet (autovacuum may be behind or off, and a
district's first night creates every school's people before anything analyses them)."""
import pytest

from jobs.directory import _elsewhere
from store.db import db
from store.models import Person
from tests.factories import make_person, make_school

PEOPLE = 20_000


def test_the_accounts_elsewhere_are_found_by_index_not_by_reading_every_person(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner")
    school = make_school()
    other = make_school(school.district)  # another school of the district: its accounts are the ones minded
    owner = make_person(other, role="owner", password="x" * 12)
    model = make_person(other)
    columns = [c.name for c in Person.__table__.columns if c.name not in ("id", "source_id", "email")]
    listed = ", ".join(columns)
    # A big district that nothing has analysed yet (all in this transaction, rolled back at the end).
    db.session.execute(db.text(
        f"INSERT INTO person ({listed}, source_id, email) SELECT {listed}, 'sis-' || g, 'p' || g || '@example.org' "
        f"FROM person, generate_series(1, {PEOPLE}) g WHERE person.id = :id"), {"id": model.id})
    db.session.execute(db.text("DELETE FROM pg_statistic WHERE starelid = 'person'::regclass"))
    db.session.execute(db.text("UPDATE pg_class SET reltuples = -1 WHERE oid = 'person'::regclass"))
    try:
        query = _elsewhere(school.id, school.district_id)
        sql = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(db.session.execute(db.text(f"EXPLAIN {sql}")).scalars())
        assert "ix_person_sign_in" in plan and "Seq Scan on person" not in plan, plan
        found = db.session.execute(query).all()
        assert [row.email for row in found] == [owner.email]  # the other school's owner, and only them
    finally:
        db.session.rollback()


def _plan(school, *records, **options):
    """Plan `records` against the school's directory as a sync loads it (full fetch, Auto update on)."""
    from jobs.directory import load_directory
    from jobs.fields import field_names
    from jobs.plan import Planner, SyncOptions
    options = SyncOptions(roles=frozenset({"student", "teacher"}), auto_update=True, **options)
    fields = field_names(options.compare_parents)
    planner = Planner(load_directory(school.id, school.district_id, fields), options, fields)
    planner.add_page(list(records))
    return planner.finish()


def _record(sid, **fields):
    from connectors.records import PersonRecord
    values = dict(role="student", given_name="Ann", family_name="Lee", middle_name="", email=f"{sid}@example.org",
                  username="", identifier="", grades=(), phone="")
    values.update(fields)
    return PersonRecord(source_id=sid, status="active", enabled=True, school_ids=("school-1",), agent_ids=(),
                        date_last_modified=None, sis_role=values["role"], **values)


def test_a_person_whose_empty_fields_are_null_is_unchanged_when_the_sis_sends_the_same(app):
    """The database packs each person's values (NULLs as ""): the SIS sending the same values changes nobody."""
    school = make_school()
    make_person(school, source_id="s-1", given_name="Ann", family_name="Lee", email="s-1@example.org",
                middle_name=None, sis_id=None, grade=None, phone=None, username=None)
    make_person(school, role="teacher", source_id="t-1", given_name="Tom", family_name="Ng", email="t-1@example.org",
                middle_name="Q", sis_id="T1", grade="", phone="+1 555 0100", username="tng")
    plan = _plan(school, _record("s-1"), _record("t-1", role="teacher", given_name="Tom", family_name="Ng",
                                                 middle_name="Q", identifier="T1", phone="+1 555 0100",
                                                 username="tng"))
    assert plan.totals()["unchanged"] == 2 and plan.updates == [] and plan.archives == []
    changed = _plan(school, _record("s-1", middle_name="May"), _record("t-1", role="teacher", given_name="Tom",
                                                                       family_name="Ng", middle_name="Q"))
    assert {pid: diff for pid, diff in changed.diffs.items()} == {
        changed.updates[0][0]: [("middle_name", "", "May")],
        changed.updates[1][0]: [("username", "tng", ""), ("sis_id", "T1", ""), ("phone", "+1 555 0100", "")]}


def test_a_value_typed_by_hand_with_the_separator_in_it_is_compared_and_shown_exactly(app):
    """A name typed by hand may hold the planner's separator (\\x1f); its person is still compared field by field,
    and the change shows the stored name as it is, not split in two."""
    school = make_school()
    make_person(school, source_id="s-1", given_name="An\x1fn", family_name="Lee", email="s-1@example.org")
    make_person(school, source_id="s-2", given_name="Bo", family_name="Li", email="s-2@example.org")
    plan = _plan(school, _record("s-1"), _record("s-2", given_name="Bo", family_name="Li"))
    [(pid, sid, *_)] = plan.updates
    assert sid == "s-1" and plan.diffs[pid] == [("given_name", "An\x1fn", "Ann")]
    assert plan.totals()["unchanged"] == 1


def test_parent_contact_fields_are_loaded_for_a_full_sync_with_parents(app):
    school = make_school()
    make_person(school, source_id="s-1", given_name="Ann", family_name="Lee", email="s-1@example.org",
                parent_name="Pat Lee", parent_email=None, parent_phone="+1 555 0101")
    plan = _plan(school, _record("s-1"), parents=True)
    [(pid, *_)] = plan.updates
    assert plan.diffs[pid] == [("parent_name", "Pat Lee", ""), ("parent_phone", "+1 555 0101", "")]
