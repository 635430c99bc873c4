"""Safety: the archive guard, SIS faults, concurrent syncs and dead workers leave the directory intact."""
from datetime import datetime, timedelta, timezone

import pytest

import jobs.sync
from jobs.locks import LOCK_TTL_SECONDS, SchoolLock, lock_holder, lock_key
from jobs.sync import run_sync
from store.db import db
from store.models import SyncRun
from jobs.runs import SyncAlreadyRunning, approve_run, create_run, mark_stale_runs_failed, start_sync
from tests.factories import make_owner, make_run, make_school
from tests.support import (changes, connect, directory, expected_people, issues, running_sandbox, sandbox_fixture,
                           snapshot, sync)

pytestmark = pytest.mark.usefixtures("no_backoff")  # retries still happen, without the real pauses
sandbox = sandbox_fixture(seed=7, page_cap=25, scope="module")  # small pages: faults land mid-paging


@pytest.fixture
def school(app, sandbox):
    sandbox.clear_faults()
    yield make_school()
    sandbox.clear_faults()


@pytest.fixture
def synced(school, sandbox):
    """A school already synced once (archive on, guard at 10%)."""
    connect(school, sandbox, archive=True)
    assert sync(school).status == "succeeded"
    return school


def test_archive_guard_stops_the_run_and_approval_applies_it(app, school):
    with running_sandbox(seed=21) as box:
        connect(school, box, archive=True, archive_threshold_percent=10)
        sync(school)
        owner = make_owner(school)
        gone = box.mutate(remove_fraction=0.3, seed=2, remove_mode="drop")["dropped"]
        ours = {sid for sid in gone if sid in directory(school)}
        before = snapshot(school)

        run = sync(school)
        assert run.status == "needs_review"
        assert run.would_archive == len(ours)
        assert run.rostered_total == sum(1 for p in directory(school).values() if p.source_id)
        assert "approve" in run.error_message
        assert {c.source_id for c in changes(run, "archive")} == ours
        assert snapshot(school) == before

        approve_run(run, owner)
        run_sync(run.id)
        db.session.expire_all()
        run = db.session.get(SyncRun, run.id)
        assert run.status == "succeeded" and run.archived == len(ours)
        assert {sid for sid, p in directory(school).items() if p.status == "archived"} == ours
        assert run.approved_by_id == owner.id


def test_an_approved_run_that_would_now_archive_more_than_approved_is_held_again(app, school):
    """Approval re-reads the SIS; it archived everyone missing by then (here twice the number approved), unguarded."""
    with running_sandbox(seed=23) as box:
        connect(school, box, archive=True, archive_threshold_percent=10)
        sync(school)
        box.mutate(remove_fraction=0.2, seed=3, remove_mode="drop")
        run = sync(school)
        assert run.status == "needs_review"
        shown = run.would_archive
        box.mutate(remove_fraction=0.3, seed=4, remove_mode="drop")  # the SIS loses more before the owner looks
        owner = make_owner(school)
        before = snapshot(school)
        approve_run(run, owner)
        run_sync(run.id)
        db.session.expire_all()
        run = db.session.get(SyncRun, run.id)
        assert run.status == "needs_review" and run.would_archive > shown
        assert f"more than the {shown:,} approved" in run.error_message
        assert snapshot(school) == before  # nobody archived
        approve_run(run, owner)  # approving the number now shown applies it
        run_sync(run.id)
        db.session.expire_all()
        assert db.session.get(SyncRun, run.id).status == "succeeded"


def test_a_new_sync_replaces_a_run_still_waiting_for_review(app, school):
    """Sync now while a run was held made a second held run and left the first approvable: approved, it re-ran and
    'succeeded' beside the new one. The new sync reads the roster again, so the old one ends."""
    with running_sandbox(seed=22) as box:
        connect(school, box, archive=True, archive_threshold_percent=10)
        sync(school)
        box.mutate(remove_fraction=0.3, seed=5, remove_mode="drop")
        held = sync(school)
        assert held.status == "needs_review"
        newer = sync(school)
        db.session.expire_all()
        old = db.session.get(SyncRun, held.id)
        assert (old.status, newer.status) == ("skipped", "needs_review")
        assert old.error_message.startswith(f"Replaced by sync #{newer.shown_number}, which reads the roster again")
        with pytest.raises(ValueError, match="Only a sync waiting for review can be approved"):
            approve_run(old, make_owner(school))
        preview = create_run(school, trigger="preview")  # a preview changes nothing: the held run stays
        run_sync(preview.id)
        db.session.expire_all()
        assert db.session.get(SyncRun, newer.id).status == "needs_review"


def test_a_small_departure_under_the_threshold_is_archived_without_review(app, school):
    with running_sandbox(seed=22) as box:
        connect(school, box, archive=True, archive_threshold_percent=10)
        sync(school)
        student = next(p for p in expected_people(box).values() if p.role == "student")
        box.data.overlay[student.source_id] = {"status": "tobedeleted"}
        box.data.changed([student.source_id])
        run = sync(school)
        assert (run.status, run.archived) == ("succeeded", 1)
        assert directory(school)[student.source_id].status == "archived"


FAULTS = {
    "500 on every retry mid-paging": dict(error_500={"path": "students", "page": 1, "times": 99}),
    "malformed page": dict(malformed_json={"path": "students", "page": 1}),
    "HTML error page": dict(html_page={"path": "teachers", "page": 0, "status": 503}),
    "truncated page": dict(truncated={"path": "users", "page": 2}),
}


@pytest.mark.parametrize("faults", FAULTS.values(), ids=FAULTS.keys())
def test_a_failed_fetch_leaves_the_directory_unchanged(synced, sandbox, faults):
    before = snapshot(synced)
    sandbox.set_faults(**faults)
    run = sync(synced)
    assert run.status == "failed"
    assert run.error_message.endswith("Nothing was changed.")
    assert "unexpectedly" not in run.error_message  # a connector message, readable
    assert snapshot(synced) == before


def test_a_first_sync_that_fails_mid_fetch_shows_nobody_created(school, sandbox):
    # its live counts (people it would have created) read as done beside "Nothing was changed"
    connect(school, sandbox)
    sandbox.set_faults(error_500={"path": "students", "page": 2, "times": 99})
    run = sync(school)
    assert run.status == "failed" and run.error_message.endswith("Nothing was changed.")
    assert (run.created, run.updated, run.archived, run.linked) == (0, 0, 0, 0) and run.fetched > 0
    assert directory(school) == {}


def test_a_failure_after_the_apply_committed_leaves_the_run_succeeded(school, sandbox, monkeypatch):
    # (a CSV run's bundle update comes after the commit) it said "failed, 0 created, Nothing was changed"
    from sqlalchemy.exc import OperationalError
    connect(school, sandbox)
    real = jobs.sync.apply_plan

    def apply_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise OperationalError("UPDATE roster_bundle", {}, Exception("connection closed"))

    monkeypatch.setattr(jobs.sync, "apply_plan", apply_then_fail)
    run = sync(school)
    assert run.status == "succeeded" and run.created == len(directory(school)) > 0


def test_an_approved_run_that_fails_keeps_no_change_log(synced, sandbox, monkeypatch):
    # its rows from when it was held said what it would archive beside "Nothing was changed"
    sandbox.mutate(remove_fraction=0.3, seed=2)
    held = sync(synced)
    assert held.status == "needs_review" and changes(held, "archive")
    approve_run(held, make_owner(synced))

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(jobs.sync, "apply_plan", broken)
    run_sync(held.id)
    db.session.expire_all()
    run = db.session.get(SyncRun, held.id)
    assert run.status == "failed" and run.archived == 0 and changes(run, "archive") == []


def test_token_expiry_mid_sync_recovers(synced, sandbox):
    sandbox.set_faults(token_expiry_after=3)
    run = sync(synced)
    assert run.status == "succeeded", run.error_message
    assert run.unchanged == len(expected_people(sandbox))


def test_a_short_429_storm_recovers(synced, sandbox):
    sandbox.set_faults(rate_limit_storm=2, retry_after=0.01)
    run = sync(synced)
    assert run.status == "succeeded", run.error_message


def test_an_endless_429_storm_fails_cleanly(synced, sandbox):
    before = snapshot(synced)
    sandbox.set_faults(rate_limit_storm=10_000, retry_after=0.01)
    run = sync(synced)
    assert run.status == "failed" and "Nothing was changed." in run.error_message
    assert snapshot(synced) == before


def test_an_exception_between_fetch_and_apply_changes_nothing(synced, sandbox, monkeypatch):
    sandbox.mutate(change_fraction=0.1, seed=9)
    before = snapshot(synced)

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(jobs.sync.applying, "_insert_changes", explode)
    run = sync(synced)
    assert run.status == "failed"
    assert run.error_message.startswith(
        "The sync stopped unexpectedly (RuntimeError). Sync again; if it stops the same way")
    assert snapshot(synced) == before


def test_bad_records_become_issues_and_the_rest_syncs(school, sandbox):
    chosen = sandbox.set_faults(missing_names=4, duplicates=2)["records"]
    ours = set(sandbox.data.user_ids("students", sandbox.info["school_ids"][0]))
    nameless = set(chosen["missing_names"]) & ours
    assert nameless
    connect(school, sandbox)
    run = sync(school)
    assert run.status == "succeeded"
    kinds = {(i.kind, i.source_id) for i in issues(run)}
    assert {("bad_record", sid) for sid in nameless} == {k for k in kinds if k[0] == "bad_record"}
    assert run.issues == len(issues(run))
    people = directory(school)
    assert not nameless & set(people)
    assert len(people) == len(expected_people(sandbox))


def test_a_second_start_is_refused_while_a_run_is_queued(app, school, sandbox):
    connect(school, sandbox)
    first = start_sync(school)
    with pytest.raises(SyncAlreadyRunning) as refused:
        start_sync(school)
    assert refused.value.run.id == first.id
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 1


def test_the_lock_refuses_a_second_run_of_the_same_school(app, school, sandbox):
    connect(school, sandbox)
    first = create_run(school, trigger="manual")
    second = make_run(school, status="queued")
    holder = SchoolLock(app.redis, school.id, first.id)
    assert holder.acquire()
    try:
        run_sync(second.id)
    finally:
        holder.release()
    db.session.expire_all()
    assert db.session.get(SyncRun, second.id).status == "skipped"
    assert directory(school) == {}
    run_sync(first.id)
    db.session.expire_all()
    assert db.session.get(SyncRun, first.id).status == "succeeded"
    run_sync(first.id)  # a second delivery of the same job does nothing
    assert db.session.get(SyncRun, first.id).created == len(directory(school))


def test_a_run_whose_worker_died_is_marked_failed(app, school, sandbox):
    connect(school, sandbox)
    old = datetime.now(timezone.utc) - timedelta(minutes=10)
    stale = make_run(school, status="running", started_at=old, heartbeat_at=old, created_at=old)
    lost = make_run(school, trigger="nightly", status="queued", job_id="sync-gone", created_at=old,
                    local_date="2026-01-01")
    fresh = make_run(make_school(), status="running", heartbeat_at=datetime.now(timezone.utc))
    assert sorted(mark_stale_runs_failed()) == sorted([stale.id, lost.id])
    assert "stopped responding" in stale.error_message and stale.status == "failed"
    assert lost.status == "failed" and fresh.status == "running"
    assert start_sync(school).status == "queued"  # the school is free again


def test_a_run_that_succeeds_while_it_is_judged_stale_keeps_its_result(app, school, sandbox, monkeypatch):
    connect(school, sandbox)
    old = datetime.now(timezone.utc) - timedelta(minutes=10)
    run = make_run(school, trigger="nightly", status="queued", job_id="sync-slow", created_at=old,
                   local_date="2026-01-01")
    engine = db.engine

    def finished_meanwhile(redis, job_id):  # its worker commits "succeeded" between the read and the write
        with engine.begin() as conn:
            conn.execute(db.update(SyncRun).where(SyncRun.id == run.id).values(status="succeeded", created=7))
        return True

    monkeypatch.setattr("jobs.runs._job_gone", finished_meanwhile)
    assert mark_stale_runs_failed() == []
    db.session.expire_all()
    assert (run.status, run.created) == ("succeeded", 7)


def _dead_for(app, school, minutes: int) -> SyncRun:
    """A run whose worker was killed `minutes` ago: heartbeat that old, and its lock not renewed since."""
    old = datetime.now(timezone.utc) - timedelta(minutes=minutes)
    run = make_run(school, status="running", started_at=old, heartbeat_at=old, created_at=old)
    assert SchoolLock(app.redis, school.id, run.id).acquire()
    return run


def test_sync_now_after_a_killed_worker_starts_at_once_instead_of_saying_a_sync_is_running(app, school, sandbox):
    """The run was failed (no heartbeat for 5 minutes) but its lock lived on for the rest of its 10-minute lease: Sync
    now said 'already queued or running' while the page showed the run failed."""
    connect(school, sandbox)
    dead = _dead_for(app, school, 6)
    app.redis.expire(lock_key(school.id), LOCK_TTL_SECONDS - 6 * 60)  # Redis's clock: 6 minutes without a renewal
    run = start_sync(school)
    assert run.status == "queued" and db.session.get(SyncRun, dead.id).status == "failed"


def test_a_cli_run_killed_before_it_started_stops_blocking_the_school(app, school, sandbox):
    """`roster sync` ended (Ctrl-C, a closed terminal) between making its run and claiming it: the run has no job id,
    was taken for alive for ever, and every later Sync now said a sync was already queued or running."""
    connect(school, sandbox)
    killed = create_run(school, trigger="cli")
    assert killed.job_id is None
    killed.created_at = datetime.now(timezone.utc) - timedelta(minutes=6)
    db.session.commit()
    assert SchoolLock(app.redis, school.id, killed.id).acquire()  # had it got as far as the lock, that goes too
    app.redis.expire(lock_key(school.id), LOCK_TTL_SECONDS - 6 * 60)
    run = start_sync(school)
    assert run.status == "queued" and lock_holder(app.redis, school.id) is None
    db.session.refresh(killed)
    assert killed.status == "failed" and "stopped responding" in killed.error_message
    assert "Nothing was changed." in killed.error_message


def test_a_cli_run_just_made_is_left_to_start(app, school, sandbox):
    connect(school, sandbox)
    fresh = create_run(school, trigger="cli")
    fresh.created_at = datetime.now(timezone.utc) - timedelta(minutes=4)  # within the heartbeat limit
    db.session.commit()
    assert mark_stale_runs_failed(school.id) == [] and fresh.status == "queued"
    with pytest.raises(SyncAlreadyRunning):
        start_sync(school)


def test_a_run_still_renewing_its_lock_keeps_it_when_its_heartbeat_looks_stale(app, school, sandbox):
    """A stale heartbeat with a freshly renewed lock is a live run: freeing the lock would let a second sync apply."""
    connect(school, sandbox)
    alive = _dead_for(app, school, 6)  # its lock was just taken: renewed a moment ago
    assert mark_stale_runs_failed(school.id) == [alive.id]
    assert lock_holder(app.redis, school.id) == alive.id
    with pytest.raises(SyncAlreadyRunning):
        start_sync(school)


def test_production_refuses_a_plain_http_loopback_sis(app, school, sandbox, monkeypatch):
    connect(school, sandbox)
    monkeypatch.undo()  # the real client factory, with the portal's outbound policy
    app.config["PORTAL_ENV"] = "production"
    try:
        run = sync(school)
    finally:
        app.config["PORTAL_ENV"] = "test"
    assert run.status == "failed" and directory(school) == {}
    assert "https" in run.error_message  # the saved http://127.0.0.1 URL is refused before any request


def test_a_broken_1_2_record_read_from_a_global_listing_is_an_issue_not_a_leaver(app, school):
    """OneRoster 1.2 users name their school in roles[].org and primaryOrg, not `orgs`. A nameless one read from the
    global students listing (the school's own listing refused) was judged not this school's and dropped without a
    word, so the sync counted the student as having left the roster and, with Archive on, archived them."""
    from connectors.sandbox.v12 import new_id
    from portal.rostering import service
    from tests.support import SETTINGS, sandbox_values

    with running_sandbox(seed=24, students=60, oneroster_12=True) as box:
        conn = service.save_connection(school, "oneroster", {**sandbox_values(box), "oneroster_version": "1.2"},
                                       actor=None)
        service.save_sync_settings(conn, **{**SETTINGS, "archive": True, "archive_threshold_percent": 50.0})
        assert sync(school).status == "succeeded"
        before = snapshot(school)
        chosen = box.set_faults(refuse_listings=["schools/*/students"], missing_names=2)["records"]
        ours = set(box.data.user_ids("students", box.info["school_ids"][0]))
        nameless = {new_id(sid) for sid in set(chosen["missing_names"]) & ours}  # as 1.2 serves their ids
        assert nameless
        run = sync(school)
    assert run.status == "succeeded", run.error_message
    assert snapshot(school) == before  # nobody archived
    assert {i.source_id for i in issues(run) if i.kind == "bad_record"} == nameless
    assert all("has no givenName or familyName" in i.message for i in issues(run) if i.kind == "bad_record")


def test_a_wrong_school_id_is_held_even_at_a_100_percent_threshold_when_it_would_archive_everyone(app, school,
                                                                                                   sandbox):
    """A staff-only school (staff come from the global `users` listing, which any School ID passes) given a School
    ID of no school read nobody: with the threshold at 100% nothing held it, and every staff member was archived."""
    from store.models import RosterConnection
    connect(school, sandbox, sync_students=False, sync_teachers=False, archive=True, archive_threshold_percent=100)
    assert sync(school).status == "succeeded"
    staff = {sid for sid, p in directory(school).items() if p.status == "active" and p.source_id}
    assert staff
    conn = db.session.scalar(db.select(RosterConnection).filter_by(school_id=school.id))
    conn.sis_school_id = "no-such-school"
    db.session.commit()
    before = snapshot(school)
    run = sync(school)
    assert (run.status, run.would_archive) == ("needs_review", len(staff))
    assert f"tried to archive all {len(staff):,} rostered people, which is held whatever the threshold" in \
        run.error_message and "wrong SIS School ID" in run.error_message
    assert snapshot(school) == before  # nobody archived
