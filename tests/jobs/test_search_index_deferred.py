"""A big first sync on SQLite files its new people into People search in one statement after the insert (the
per-row FTS5 trigger is set aside inside the run's transaction): they are found as if the trigger had run, the
trigger is back for later edits, and a failed apply leaves search exactly as it was.

Runs on its own SQLite file whatever TEST_DATABASE_URL says, because the search table exists only there.
"""
import pytest
from sqlalchemy import text

import jobs.apply
from jobs.apply import apply_plan
from jobs.bulk import DEFER_SEARCH_FROM
from jobs.fields import FIELDS, pack
from jobs.plan import SyncPlan
from portal.people.directory import search_people
from store.db import db
from store.models import Person, SyncRun
from tests.support import sqlite_school as fresh_sqlite_school

pytestmark = pytest.mark.smoke
PEOPLE = DEFER_SEARCH_FROM + 200


@pytest.fixture
def sqlite_school(tmp_path):
    with fresh_sqlite_school(tmp_path / "deferred.db", "Deferred", "deferred") as school:
        db.session.add(Person(school_id=school.id, district_id=school.district_id, role="teacher", given_name="Hand",
                              family_name="Made", email="hand@deferred.org", status="active", session_token="x"))
        db.session.commit()
        yield school


def first_sync_plan() -> SyncPlan:
    creates = []
    for i in range(PEOPLE):
        values = dict.fromkeys(FIELDS, "")
        values.update(role="student", given_name=f"Given{i}", family_name="Quillfeather" if i == 777 else f"Fam{i}",
                      email=f"s{i}@deferred.org", sis_id=f"{50000 + i}")
        creates.append((f"stu-{i:05d}", pack(tuple(values[f] for f in FIELDS)), None))
    return SyncPlan(fields=FIELDS, creates=creates)


def names(school, q):
    return sorted(p.given_name for p in search_people(school, q=q, per_page=500).items)


def trigger_exists() -> bool:
    return db.session.scalar(text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                                  "AND name = 'person_search_insert'")) == 1


def test_a_big_first_sync_is_searchable_and_the_trigger_is_back(sqlite_school):
    run = SyncRun(school_id=sqlite_school.id, trigger="manual")
    db.session.add(run)
    db.session.commit()
    apply_plan(run.id, sqlite_school.id, sqlite_school.district_id, first_sync_plan(), full=True, connection_id=0)
    assert names(sqlite_school, "quillfeather") == ["Given777"]
    assert names(sqlite_school, "50123") == ["Given123"] and names(sqlite_school, "stu-01111") == ["Given1111"]
    assert names(sqlite_school, "hand@deferred") == ["Hand"]  # indexed before, still found once
    assert db.session.scalar(text("SELECT count(*) FROM person_search")) == PEOPLE + 1
    assert trigger_exists()
    person = db.session.scalar(db.select(Person).filter_by(given_name="Given5"))
    person.family_name = "Oakwright"
    db.session.add(Person(school_id=sqlite_school.id, district_id=sqlite_school.district_id, role="staff",
                          given_name="Later", family_name="Arrival", email="later@deferred.org", status="active",
                          session_token="y"))
    db.session.commit()
    assert names(sqlite_school, "oakwright") == ["Given5"] and names(sqlite_school, "arrival") == ["Later"]


def test_a_failed_big_apply_leaves_people_and_search_as_they_were(sqlite_school, monkeypatch):
    run = SyncRun(school_id=sqlite_school.id, trigger="manual")
    db.session.add(run)
    db.session.commit()

    def disk_full(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(jobs.apply, "record_role_counts", disk_full)  # fails after the people went in
    with pytest.raises(RuntimeError):
        apply_plan(run.id, sqlite_school.id, sqlite_school.district_id, first_sync_plan(), full=True,
                   connection_id=0)
    assert db.session.scalar(db.select(db.func.count(Person.id))) == 1
    assert db.session.scalar(text("SELECT count(*) FROM person_search")) == 1
    assert names(sqlite_school, "quillfeather") == [] and trigger_exists()
