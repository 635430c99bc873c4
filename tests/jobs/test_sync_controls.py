"""Sync controls districts rely on: roles left out of Auto update or Archive, a one-run archive threshold,
and new SIS records that look like someone already here (sandbox SIS over real HTTP)."""
from datetime import datetime, timedelta, timezone

import pytest

from jobs.sync import choose_since
from store.db import db
from store.models import Person, RosterConnection, SyncRun
from tests.factories import make_person, make_school
from tests.support import (add_sis_person, changes, connect, directory, exclude_roles, expected_people, issues,
                           running_sandbox, sandbox_fixture, snapshot, sync)

sandbox = sandbox_fixture(seed=31)  # each test changes the SIS's data, so each gets its own


@pytest.fixture
def school(app):
    return make_school()


def people_of(school, role) -> list[Person]:
    return sorted((p for p in directory(school).values() if p.role == role and p.source_id),
                  key=lambda p: p.source_id)


def remove_from_sis(sandbox, *people, tobedeleted=()):
    """The SIS stops sending `people` and marks `tobedeleted` as leaving."""
    data = sandbox.data
    with data.lock:
        for person in people:
            del data.users[person.source_id]
        for person in tobedeleted:
            data.users[person.source_id]["status"] = "tobedeleted"
        data.changed([p.source_id for p in people + tuple(tobedeleted)])


def duplicate_issues(run) -> dict[str, str]:
    return {i.source_id: i.message for i in issues(run) if i.kind == "possible_duplicate"}


# ---- roles left out of Auto update and Archive ----------------------------------------------

def test_teachers_left_out_of_auto_update_keep_hand_edits_while_students_update(school, sandbox):
    connect(school, sandbox, auto_update=True)
    assert sync(school).status == "succeeded"
    exclude_roles(school, update=("teacher",))
    edited_teacher, renamed_teacher = people_of(school, "teacher")[:2]
    edited_student, renamed_student = people_of(school, "student")[:2]
    for person in (edited_teacher, edited_student):
        person.given_name = "Edited By Hand"
    db.session.commit()
    teacher_name = renamed_teacher.given_name
    for person in (renamed_teacher, renamed_student):
        sandbox.rename(person.source_id, given_name="Renamed In SIS")

    run = sync(school)
    assert run.status == "succeeded", run.error_message
    people = directory(school)
    assert people[edited_teacher.source_id].given_name == "Edited By Hand"
    assert people[renamed_teacher.source_id].given_name == teacher_name
    assert people[edited_student.source_id].given_name != "Edited By Hand"  # the SIS's name is back
    assert people[renamed_student.source_id].given_name == "Renamed In SIS"
    assert run.updated == 2 and run.skipped >= 2
    assert {c.source_id for c in changes(run, "update")} == {edited_student.source_id, renamed_student.source_id}


def test_a_hand_made_teacher_is_linked_but_not_changed_when_teachers_are_left_out_of_auto_update(school, sandbox):
    teacher = next(p for p in expected_people(sandbox).values() if p.role == "teacher")
    hand = make_person(school, role="teacher", email=teacher.email.upper(), given_name="Made By Hand")
    connect(school, sandbox, auto_update=True)
    exclude_roles(school, update=("teacher",))

    run = sync(school)
    assert run.status == "succeeded" and run.linked == 1
    db.session.refresh(hand)
    assert (hand.source_id, hand.given_name) == (teacher.source_id, "Made By Hand")
    assert [c.field for c in changes(run, "link")] == ["source_id"]


def test_teachers_left_out_of_archive_stay_active_when_they_leave_the_sis(school, sandbox):
    connect(school, sandbox, archive=True, archive_threshold_percent=100)
    assert sync(school).status == "succeeded"
    exclude_roles(school, archive=("teacher",))
    missing_teacher, leaving_teacher = people_of(school, "teacher")[:2]
    missing_student, leaving_student = people_of(school, "student")[:2]
    remove_from_sis(sandbox, missing_teacher, missing_student, tobedeleted=(leaving_teacher, leaving_student))

    run = sync(school)
    assert run.status == "succeeded", run.error_message
    people = directory(school)
    assert people[missing_teacher.source_id].status == "active"
    assert people[leaving_teacher.source_id].status == "active"
    assert people[missing_student.source_id].status == "archived"
    assert people[leaving_student.source_id].status == "archived"
    assert run.archived == 2


def test_roles_left_out_of_archive_do_not_count_toward_the_archive_guard(school, sandbox):
    connect(school, sandbox, archive=True, archive_threshold_percent=10)
    assert sync(school).status == "succeeded"
    exclude_roles(school, archive=("student",))
    archivable = [p for p in directory(school).values() if p.role != "student"]
    remove_from_sis(sandbox, people_of(school, "teacher")[0])  # 1 of the few non-students: over 10%
    before = snapshot(school)

    run = sync(school)
    assert run.status == "needs_review"
    assert (run.would_archive, run.rostered_total) == (1, len(archivable))
    assert "not counted" in run.error_message and run.archive_uncounted_roles == "student"
    assert snapshot(school) == before


# ---- a one-run archive threshold -------------------------------------------------------------

def test_a_threshold_override_lets_one_run_archive_more_and_the_next_is_held_again(school, sandbox):
    connect(school, sandbox, archive=True, archive_threshold_percent=10)
    assert sync(school).status == "succeeded"
    rostered = set(directory(school))
    gone = {sid for sid in sandbox.mutate(remove_fraction=0.3, seed=2, remove_mode="drop")["dropped"]
            if sid in rostered}
    assert len(gone) > len(rostered) * 0.1

    run = sync(school, threshold_override=100)
    assert run.status == "succeeded", run.error_message
    assert run.archived == len(gone)
    assert {sid for sid, p in directory(school).items() if p.status == "archived"} == gone

    more = {sid for sid in sandbox.mutate(remove_fraction=0.3, seed=3, remove_mode="drop")["dropped"]
            if sid in rostered}
    assert len(more) > (len(rostered) - len(gone)) * 0.1
    before = snapshot(school)
    run = sync(school)
    assert run.status == "needs_review" and run.would_archive == len(more)
    assert snapshot(school) == before


def test_a_nightly_run_with_a_threshold_override_fetches_everything():
    now = datetime.now(timezone.utc)
    conn = RosterConnection(last_full_sync_at=now - timedelta(hours=20), high_water_mark=now - timedelta(hours=21),
                            settings_changed_at=now - timedelta(days=3))
    assert choose_since(conn, SyncRun(trigger="nightly"), now) is not None  # a delta otherwise
    assert choose_since(conn, SyncRun(trigger="nightly", archive_threshold_override=50.0), now) is None


# ---- new SIS records that look like someone already here -------------------------------------

@pytest.mark.parametrize("status", ["active", "archived"])
def test_a_new_record_with_a_rostered_persons_email_is_flagged_not_added(school, sandbox, status):
    connect(school, sandbox)
    assert sync(school).status == "succeeded"
    existing = people_of(school, "student")[0]
    existing.status, existing.archived_by = status, "manual" if status == "archived" else ""
    db.session.commit()
    before = snapshot(school)
    new = add_sis_person(sandbox, existing.source_id, email=existing.email.upper(), givenName="Twin")

    run = sync(school)
    assert run.status == "succeeded", run.error_message
    message = duplicate_issues(run)[new]
    assert f"{existing.given_name} {existing.family_name}" in message and existing.email in message
    assert ("(archived)" in message) == (status == "archived")
    assert "then sync again" in message
    assert snapshot(school) == before  # no second account, the existing person untouched
    assert run.created == 0 and run.skipped >= 1


def test_a_new_record_with_a_rostered_persons_sis_id_is_flagged_not_added(school, sandbox):
    connect(school, sandbox)
    assert sync(school).status == "succeeded"
    existing = people_of(school, "teacher")[0]
    before = snapshot(school)
    new = add_sis_person(sandbox, existing.source_id, identifier=existing.sis_id)

    run = sync(school)
    message = duplicate_issues(run)[new]
    assert f"SIS id {existing.sis_id}" in message and f"{existing.given_name} {existing.family_name}" in message
    assert snapshot(school) == before and run.created == 0


def test_a_hand_made_person_with_the_sis_id_is_linked_only_when_the_email_matches(school, sandbox):
    student = next(p for p in expected_people(sandbox).values() if p.role == "student")
    other = add_sis_person(sandbox, student.source_id, identifier="H-100")
    same = add_sis_person(sandbox, student.source_id, identifier="H-200", email="same.person@example.org")
    different = make_person(school, sis_id="H-100", email="someone.else@example.org", given_name="Hand")
    matching = make_person(school, sis_id="H-200", email="Same.Person@example.org")
    connect(school, sandbox)

    run = sync(school)
    assert run.status == "succeeded", run.error_message
    assert "Hand" in duplicate_issues(run)[other] and "added by hand" in duplicate_issues(run)[other]
    assert other not in directory(school)
    db.session.refresh(different)
    db.session.refresh(matching)
    assert different.source_id is None
    assert matching.source_id == same and run.linked == 1


def test_two_new_records_with_one_email_add_one_person_and_flag_the_other(school, sandbox):
    connect(school, sandbox)
    assert sync(school).status == "succeeded"
    like = people_of(school, "student")[0].source_id
    first, second = sorted(add_sis_person(sandbox, like, email="shared@sandbox.example.org") for _ in range(2))

    run = sync(school)
    assert run.status == "succeeded", run.error_message
    people = directory(school)
    assert (first in people, second in people) == (True, False)
    message = duplicate_issues(run)[second]
    assert first in message and "shared@sandbox.example.org" in message
    assert run.created == 1
    assert db.session.scalar(db.select(db.func.count(Person.id)).where(
        Person.email == "shared@sandbox.example.org")) == 1


def test_a_held_run_keeps_the_threshold_it_was_held_to_when_the_setting_changes_later(school, sandbox):
    from jobs.connection import get_connection
    from jobs.thresholds import archive_hold
    connect(school, sandbox, archive=True, archive_threshold_percent=10)
    assert sync(school).status == "succeeded"
    sandbox.mutate(remove_fraction=0.3, seed=2, remove_mode="drop")
    run = sync(school)
    assert run.status == "needs_review"
    conn = get_connection(school)
    conn.archive_threshold_percent = 50  # the owner raises it after the run was held
    db.session.commit()
    assert archive_hold(run, conn.archive_threshold_percent).sentence().endswith("more than the 10% threshold")


# ---- what a run records about itself ---------------------------------------------------------

def test_a_runs_finish_time_comes_after_its_writes(school, sandbox, monkeypatch):
    import jobs.apply
    written = []
    real = jobs.apply._insert_changes
    monkeypatch.setattr(jobs.apply, "_insert_changes", lambda rows: (real(rows), written.append(datetime.now(
        timezone.utc))))
    connect(school, sandbox)
    run = sync(school)
    assert run.status == "succeeded" and written
    assert run.finished_at.replace(tzinfo=run.finished_at.tzinfo or timezone.utc) >= written[-1]


def test_a_big_first_sync_refreshes_the_databases_statistics(app, school, monkeypatch):
    """People pages stay fast right after a district's first sync (no wait for autoanalyze)."""
    import jobs.apply
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL statistics")
    monkeypatch.setattr(jobs.apply, "ANALYZE_AFTER_CREATES", 20)
    stats = "SELECT coalesce(analyze_count, 0) FROM pg_stat_user_tables WHERE relname = 'person'"
    before = db.session.execute(db.text(stats)).scalar()
    db.session.commit()
    with running_sandbox(seed=5, students=80) as box:
        connect(school, box)
        assert sync(school).created >= 20
    db.session.execute(db.text("SELECT pg_stat_clear_snapshot()"))
    assert db.session.execute(db.text(stats)).scalar() > before
