"""Delta syncs: nightly runs fetch only what changed, never archive the unseen, and fall back to full."""
from datetime import date, datetime, timedelta, timezone

import pytest

from jobs.sync import run_sync
from store.db import db
from store.models import SyncRun
from jobs.connection import get_connection
from jobs.runs import create_run
from tests.factories import make_school
from tests.support import changes, connect, directory, expected_people, issues, sandbox_fixture, set_flags, sync

_night = iter(range(1, 1000))
sandbox = sandbox_fixture(schools=1, students=80, seed=31)


@pytest.fixture
def school(app, sandbox):
    school = make_school()
    connect(school, sandbox, archive=True, archive_threshold_percent=100)
    assert sync(school).full_fetch
    return school


def nightly(school) -> SyncRun:
    run = create_run(school, trigger="nightly", local_date=(date(2026, 1, 1) + timedelta(days=next(_night))).isoformat())
    seen = []
    run_sync(run.id, on_progress=seen.append)
    db.session.expire_all()
    run = db.session.get(SyncRun, run.id)
    run.seen_phases = [v.get("phase") for v in seen if v.get("phase")]
    return run


def test_a_nightly_run_after_a_full_sync_fetches_only_changes(school, sandbox):
    student = next(p for p in expected_people(sandbox).values() if p.role == "student")
    sandbox.rename(student.source_id, given_name="Delta")
    run = nightly(school)
    assert run.status == "succeeded", run.error_message
    assert not run.full_fetch
    assert run.updated == 1 and run.fetched < 5  # the change, plus any record inside the 1-hour overlap
    assert run.fetched < len(expected_people(sandbox)) // 10
    assert directory(school)[student.source_id].given_name == "Delta"
    assert "fetching students" in run.seen_phases


def test_people_missing_from_a_delta_are_never_archived(school, sandbox):
    run = nightly(school)
    assert (run.full_fetch, run.updated, run.archived) == (False, 0, 0)
    assert run.fetched < 5
    assert all(p.status == "active" for p in directory(school).values())


def test_a_settings_change_or_a_week_without_a_full_sync_forces_a_full_fetch(school, sandbox):
    set_flags(school, sync_staff=False)
    assert nightly(school).full_fetch
    assert not nightly(school).full_fetch
    conn = get_connection(school)
    conn.last_full_sync_at = datetime.now(timezone.utc) - timedelta(days=8)
    db.session.commit()
    run = nightly(school)
    assert run.full_fetch and run.updated == 0 and run.unchanged + run.skipped == run.fetched > 50


def test_a_full_nightly_run_archives_who_left(school, sandbox):
    gone = sandbox.mutate(remove_fraction=0.05, seed=4, remove_mode="drop")["dropped"]
    ours = {sid for sid in gone if sid in directory(school)}
    assert not nightly(school).archived  # delta: the dropped are simply not in it
    conn = get_connection(school)
    conn.last_full_sync_at = datetime.now(timezone.utc) - timedelta(days=8)
    db.session.commit()
    run = nightly(school)
    assert run.archived == len(ours) and {c.source_id for c in changes(run, "archive")} == ours


def test_a_sis_that_refuses_the_delta_filter_is_read_in_full_and_the_night_succeeds(school, sandbox):
    """A server without OneRoster filter support answered every delta 400 invalid_filter_field: six nights in
    seven failed ("The SIS refused the request ... send this message to the SIS vendor") until the weekly full
    sync. The listing is read without the filter instead; it stays a delta, so nobody is archived for being absent."""
    student = next(p for p in expected_people(sandbox).values() if p.role == "student")
    sandbox.rename(student.source_id, given_name="Unfiltered")
    gone = sandbox.mutate(remove_fraction=0.05, seed=5, remove_mode="drop")["dropped"]
    sandbox.set_faults(filter_refused=True)
    try:
        run = nightly(school)
    finally:
        sandbox.clear_faults()
    assert run.status == "succeeded", run.error_message
    assert not run.full_fetch and run.archived == 0
    assert run.fetched >= len(expected_people(sandbox))  # everyone, not only the changed
    assert directory(school)[student.source_id].given_name == "Unfiltered"
    assert all(directory(school)[sid].status == "active" for sid in gone if sid in directory(school))
    notes = [i.message for i in issues(run) if i.kind == "listing"]
    assert notes and all("because the SIS refused the delta filter (HTTP 400 on " in n for n in notes)
    assert "Students were all read from the SIS's schools/" in " ".join(notes)


def _edit(sandbox, sid: str, modified: str, **fields) -> None:
    """The SIS edits a record and stamps it with `modified`, exactly as written."""
    data = sandbox.data
    with data.lock:
        data.users[sid].update(fields, dateLastModified=modified)
        data.changed([sid])


def test_local_times_east_of_utc_without_an_offset_never_push_the_delta_mark_past_the_run(school, sandbox):
    """A SIS at UTC+10 writing local times without an offset ("2026-12-04T12:10:00" at 02:10 UTC): read as UTC the
    record is ten hours ahead. Taken as the mark, the next delta would ask only for changes after 11:10 UTC and
    miss everything the SIS changed in between."""
    first, second = [p for p in expected_people(sandbox).values() if p.role == "student"][:2]
    local = (datetime.now(timezone.utc) + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M:%S")
    _edit(sandbox, first.source_id, local, givenName="Eastern")
    run = nightly(school)
    assert run.status == "succeeded" and not run.full_fetch and run.updated == 1
    mark = get_connection(school).high_water_mark
    mark = mark if mark.tzinfo else mark.replace(tzinfo=timezone.utc)
    assert mark <= run.started_at.replace(tzinfo=timezone.utc) + timedelta(seconds=1)  # our clock, not the SIS's
    sandbox.rename(second.source_id, given_name="Afterwards")  # a change after that run, dated in UTC
    later = nightly(school)
    assert later.status == "succeeded" and not later.full_fetch
    assert directory(school)[second.source_id].given_name == "Afterwards"
