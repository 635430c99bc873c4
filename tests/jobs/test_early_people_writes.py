"""On PostgreSQL a sync writes its new people during the fetch, uncommitted (jobs.early_people): a run that fails
or is held afterwards must still change nothing, and one that succeeds must equal a sync that wrote them at the
end. EARLY_BATCH = 1 makes every page's new people go in at once, so the small sandbox exercises it."""
import threading

import pytest

import jobs.early_people
from jobs.early_people import EarlyPeople
from jobs.runs import approve_run
from jobs.sync import run_sync
from store.db import db
from store.models import Person, SyncChange, SyncRun
from tests.factories import make_owner, make_school
from tests.support import (assert_as_after_a_complete_sync, assert_failed_and_unchanged, changes, connect,
                           people, sandbox_fixture, sync)

pytestmark = pytest.mark.usefixtures("no_backoff")
sandbox = sandbox_fixture(seed=23, students=60, page_cap=20, scope="module")


@pytest.fixture
def early_writes(app, monkeypatch):
    """Every page's new people are written at once; lists how many the fetch-time thread inserted per batch."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL writes new people during the fetch")
    monkeypatch.setattr(jobs.early_people, "EARLY_BATCH", 1)
    during_fetch = []
    real_insert = EarlyPeople.insert

    def counted(self, chunk, connection):
        real_insert(self, chunk, connection)
        if threading.current_thread().name == "sync-new-people":
            during_fetch.append(len(chunk))

    monkeypatch.setattr(EarlyPeople, "insert", counted)
    return during_fetch


def test_a_first_sync_that_fails_on_its_last_listing_adds_nobody(early_writes, sandbox):
    school = make_school()
    connect(school, sandbox)
    sandbox.set_faults(error_500={"path": "teachers", "page": 0, "times": 99})
    try:
        run = sync(school)
    finally:
        sandbox.clear_faults()
    assert sum(early_writes) > 0  # students were written before the teachers' listing failed
    assert_failed_and_unchanged(school, run, [])


def test_a_first_sync_written_during_the_fetch_equals_the_sis(early_writes, sandbox):
    school = make_school()
    connect(school, sandbox)
    run = sync(school)
    assert sum(early_writes) > 0
    created = changes(run, "create")
    assert len(created) == run.created > 0 and all(c.person_id for c in created)  # the log links each person
    assert_as_after_a_complete_sync(school, sandbox, run)


def test_a_run_held_by_the_archive_guard_adds_nobody_it_found_new(early_writes, sandbox):
    school = make_school()
    connect(school, sandbox, archive=True)
    assert sync(school).status == "succeeded"
    before = people(school)
    sandbox.mutate(remove_fraction=0.5, seed=4, remove_mode="dropped")
    sandbox.simulate(sandbox.info["school_ids"][0], renames=0, removals=0, additions=25, seed=4)
    early_writes.clear()
    run = sync(school)
    assert run.status == "needs_review" and run.would_archive > 0
    assert sum(early_writes) > 0
    assert people(school) == before
    assert db.session.scalar(db.select(db.func.count(SyncChange.id)).where(
        SyncChange.run_id == run.id, SyncChange.action == "create")) == 0


def test_an_approved_held_run_logs_each_change_once_with_its_new_people_linked(early_writes, sandbox):
    """The re-queued run clears what it recorded when held before its early writer logs the first new people."""
    school = make_school()
    connect(school, sandbox, archive=True)
    assert sync(school).status == "succeeded"
    sandbox.mutate(remove_fraction=0.5, seed=5, remove_mode="dropped")
    sandbox.simulate(sandbox.info["school_ids"][0], renames=0, removals=0, additions=25, seed=5)
    run = sync(school)
    assert run.status == "needs_review" and len(changes(run, "archive")) == run.would_archive > 0
    approve_run(run, make_owner(school))
    early_writes.clear()
    run_sync(run.id)
    db.session.expire_all()
    run = db.session.get(SyncRun, run.id)
    assert run.status == "succeeded" and sum(early_writes) > 0
    archived, created = changes(run, "archive"), changes(run, "create")
    assert len(archived) == len({c.source_id for c in archived}) == run.archived == run.would_archive
    assert len(created) == len({c.source_id for c in created}) == run.created >= 25
    ids = dict(db.session.execute(db.select(Person.source_id, Person.id).where(Person.school_id == school.id)).all())
    assert all(ids[c.source_id] == c.person_id for c in created)  # each row links to the person it created


def test_a_write_failing_during_the_fetch_fails_the_run_with_nothing_changed(early_writes, sandbox, monkeypatch):
    school = make_school()
    connect(school, sandbox)
    real_insert = EarlyPeople.insert

    def disk_full(self, chunk, connection):
        if threading.current_thread().name == "sync-new-people" and early_writes:
            raise OSError("disk full")
        real_insert(self, chunk, connection)

    monkeypatch.setattr(EarlyPeople, "insert", disk_full)
    run = sync(school)
    assert sum(early_writes) > 0
    assert run.error_message.startswith(
        "The sync stopped unexpectedly (OSError). Sync again; if it stops the same way")
    assert_failed_and_unchanged(school, run, [])


def test_a_preview_logs_every_create_during_the_fetch_and_writes_nobody(early_writes, sandbox):
    """A preview hands its new people to the thread too, which logs their "create" rows only (no person id)."""
    school = make_school()
    connect(school, sandbox)
    run = sync(school, trigger="preview")
    assert run.status == "succeeded" and run.created > 0
    assert sum(early_writes) == run.created  # every create went through the thread, batch by batch
    assert db.session.scalar(db.select(db.func.count(Person.id)).where(
        Person.school_id == school.id, Person.source_id.is_not(None))) == 0
    created = changes(run, "create")
    assert len(created) == len({c.source_id for c in created}) == run.created
    assert all(c.person_id is None and c.after for c in created)
    again = sync(school, trigger="preview")  # a second preview logs its own, and the first keeps its log
    assert len(changes(again, "create")) == again.created == run.created == len(changes(run, "create"))
