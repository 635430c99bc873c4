"""Undo a sync: it puts back exactly what one run changed, leaves later changes alone with a reason, and refuses
what cannot be undone."""
import pytest

from jobs.locks import SchoolLock
from jobs.runs import SyncAlreadyRunning
from jobs.undo import UndoNeedsConfirmation, UndoRefused, plan_undo, undo_sync
from store.db import db
from store.models import AuditEvent, Person, RunRoleCount, SyncIssue, SyncRun
from tests.factories import make_owner, make_person, make_run, make_school
from tests.support import (add_sis_person, change_sis_person, changes, connect, directory, sandbox_fixture,
                           set_flags, snapshot, sync)

pytestmark = pytest.mark.usefixtures("no_backoff")


box = sandbox_fixture(seed=31, students=80)


@pytest.fixture
def school(app, box):
    school = make_school()
    connect(school, box, archive=True, auto_update=True)
    assert sync(school).status == "succeeded"
    return school


def _bad_sync(school, box):
    """The SIS renames 4 people, drops 3 and adds 2; the next sync applies it all (guard opened for the run)."""
    people = sorted(sid for sid, p in directory(school).items() if p.source_id and p.role == "student")
    renamed, dropped = people[:4], people[4:7]
    for sid in renamed:
        change_sis_person(box, sid, givenName="Wrong", familyName="Name")
    with box.data.lock:
        for sid in dropped:
            del box.data.users[sid]
        box.data.changed(dropped)
    added = [add_sis_person(box, people[10]), add_sis_person(box, people[11])]
    run = sync(school, threshold_override=100)
    assert (run.status, run.updated, run.archived, run.created) == ("succeeded", 4, 3, 2), run.error_message
    return run, renamed, dropped, added


def _undo(run, actor=None, **options) -> SyncRun:
    undone = undo_sync(run.id, actor.id if actor else None, **options)
    db.session.expire_all()
    return undone


def test_undo_puts_the_directory_back_exactly(school, box):
    owner = make_owner(school)
    before = snapshot(school)
    run, renamed, dropped, added = _bad_sync(school, box)
    assert snapshot(school) != before

    undo = _undo(run, owner)

    after = {p[0]: p for p in snapshot(school)}
    new_ids = {directory(school)[sid].id for sid in added}
    assert {k: v for k, v in after.items() if k not in new_ids} == {p[0]: p for p in before}
    assert {after[pid][6] for pid in new_ids} == {"archived"}  # archived, never deleted
    assert (undo.trigger, undo.status, undo.undoes_run_id) == ("undo", "succeeded", run.id)
    assert (undo.updated, undo.archived, undo.issues) == (4 + 3, 2, 0)
    assert {c.source_id for c in changes(undo, "archive")} == set(added)
    assert db.session.scalar(db.select(AuditEvent.detail).where(AuditEvent.action == "sync_undone")).startswith(
        f"Run #{undo.shown_number} undid run #{run.shown_number}: restored 3 archived, put back values of 4")
    counts = dict(db.session.execute(db.select(RunRoleCount.role, RunRoleCount.people)
                                     .where(RunRoleCount.run_id == undo.id)).all())
    assert counts["student"] == sum(1 for p in directory(school).values()
                                    if p.role == "student" and p.status == "active" and p.source_id)
    assert get_conn_full_sync(school) is None  # the next sync reads the whole roster again


def get_conn_full_sync(school):
    from jobs.connection import get_connection
    db.session.expire_all()
    return get_connection(school).last_full_sync_at


def test_later_changes_are_left_alone_with_a_reason(school, box):
    run, renamed, dropped, added = _bad_sync(school, box)
    people = directory(school)
    edited, restored, touched_new = people[renamed[0]], people[dropped[0]], people[added[0]]
    edited.given_name = "Fixed"  # an owner corrected the name by hand in People
    restored.status, restored.archived_by, restored.archived_at = "active", "", None  # restored by hand
    touched_new.phone = "+1-555-000-0000"  # someone edited a person the sync created
    signs_in = people[renamed[1]]
    signs_in.password_hash = "x"  # got a password since: never changed by SIS data or undo
    db.session.commit()

    undo = _undo(run)

    db.session.expire_all()
    people = directory(school)
    assert people[renamed[0]].given_name == "Fixed" and people[renamed[0]].family_name != "Name"
    assert (people[renamed[1]].given_name, people[renamed[1]].family_name) == ("Wrong", "Name")
    assert people[renamed[2]].given_name != "Wrong"
    assert people[dropped[0]].status == "active" and people[dropped[1]].status == "active"
    assert people[added[0]].status == "active" and people[added[1]].status == "archived"
    reasons = {i.source_id: i.message for i in db.session.scalars(db.select(SyncIssue).where(SyncIssue.run_id == undo.id))}
    assert "First name is now “Fixed”, changed since this sync" in reasons[renamed[0]]
    assert "Can sign in now" in reasons[renamed[1]]
    assert "Already active again" in reasons[dropped[0]]
    assert "Created by this sync but changed since" in reasons[added[0]]
    assert set(reasons) == {renamed[0], renamed[1], dropped[0], added[0]}
    assert undo.issues == 4


def test_the_preview_writes_nothing_and_matches_the_undo(school, box):
    run, renamed, dropped, added = _bad_sync(school, box)
    before = snapshot(school)
    plan = plan_undo(run)
    assert snapshot(school) == before
    assert (len(plan.restores), len(plan.reverts), len(plan.archives), len(plan.left)) == (3, 4, 2, 0)
    undo = _undo(run)
    assert (undo.updated, undo.archived) == (len(plan.restores) + len(plan.reverts), len(plan.archives))


def test_a_second_undo_of_the_same_run_is_refused(school, box):
    run, *_ = _bad_sync(school, box)
    first = _undo(run)
    after = snapshot(school)
    with pytest.raises(UndoRefused, match=f"already undone by run #{first.shown_number}; a sync can be undone once"):
        _undo(run)
    with pytest.raises(UndoRefused, match="itself an undo"):
        _undo(first)
    assert snapshot(school) == after
    assert db.session.scalar(db.select(db.func.count(SyncRun.id)).where(SyncRun.trigger == "undo")) == 1


@pytest.mark.parametrize("trigger, status, reason", [
    ("preview", "succeeded", "A preview changes nothing"),
    ("manual", "needs_review", "waiting for review and has changed nothing yet"),
    ("manual", "failed", "a failed sync changes nothing"),
    ("manual", "skipped", "did not run"),
    ("manual", "running", "has not finished yet"),
])
def test_runs_that_changed_nothing_are_refused_with_a_reason(app, trigger, status, reason):
    school = make_school()
    run = make_run(school, trigger=trigger, status=status)
    with pytest.raises(UndoRefused, match=reason):
        undo_sync(run.id, None)
    assert db.session.scalar(db.select(db.func.count(SyncRun.id)).where(SyncRun.trigger == "undo")) == 0


def test_an_undo_waits_for_a_running_sync_of_the_school(school, box):
    run, *_ = _bad_sync(school, box)
    before = snapshot(school)
    make_run(school, status="running")
    with pytest.raises(SyncAlreadyRunning):
        _undo(run)
    assert snapshot(school) == before


def test_an_undo_is_held_to_the_lock(app, school, box):
    run, *_ = _bad_sync(school, box)
    before = snapshot(school)
    other = SchoolLock(app.redis, school.id, 999_999)
    assert other.acquire()
    try:
        with pytest.raises(SyncAlreadyRunning):
            _undo(run)
    finally:
        other.release()
    assert snapshot(school) == before
    skipped = db.session.scalar(db.select(SyncRun).where(SyncRun.trigger == "undo"))
    assert skipped.status == "skipped" and skipped.error_message.endswith("Nothing was changed.")


def test_undoing_a_big_first_sync_needs_a_yes_from_the_guard(school, box):
    first = db.session.scalar(db.select(SyncRun).where(SyncRun.school_id == school.id).order_by(SyncRun.id))
    before = snapshot(school)
    with pytest.raises(UndoNeedsConfirmation, match=r"archives \d+ of \d+ rostered people \(100%\), more than the "
                                                     r"10% archive threshold"):
        _undo(first)
    assert snapshot(school) == before
    undo = _undo(first, confirmed=True)
    assert undo.archived == first.created
    assert {p.status for p in directory(school).values() if p.source_id} == {"archived"}


def test_a_failure_while_writing_changes_nothing(school, box, monkeypatch):
    run, *_ = _bad_sync(school, box)
    before = snapshot(school)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr("jobs.undo.record_role_counts", broken)
    with pytest.raises(RuntimeError):
        _undo(run)
    assert snapshot(school) == before
    failed = db.session.scalar(db.select(SyncRun).where(SyncRun.trigger == "undo"))
    assert failed.status == "failed" and "stopped unexpectedly" in failed.error_message
    monkeypatch.undo()
    assert _undo(run).status == "succeeded"  # a failed undo can be tried again


def test_an_old_email_now_used_by_a_sign_in_account_is_not_given_back(school, box):
    sid = sorted(s for s, p in directory(school).items() if p.source_id and p.role == "student")[0]
    old = directory(school)[sid].email
    change_sis_person(box, sid, email="changed@students.sandbox.example.org", givenName="Renamed")
    run = sync(school)
    assert directory(school)[sid].email == "changed@students.sandbox.example.org"
    teacher = make_person(make_school(school.district), role="teacher", password="a-long-password-1", email=old)
    undo = _undo(run)  # the teacher took the old address
    assert directory(school)[sid].email == "changed@students.sandbox.example.org"
    assert directory(school)[sid].given_name != "Renamed"  # the rest of the undo went ahead
    message = db.session.scalar(db.select(SyncIssue.message).where(SyncIssue.run_id == undo.id))
    assert f"Email “{old}” now belongs to the sign-in account of {teacher.full_name}" in message
    assert db.session.scalar(db.select(db.func.count(Person.id)).where(Person.email == old)) == 1


def test_an_old_email_now_used_by_a_sign_in_account_of_another_district_is_given_back_like_any_email(school, box):
    """Keeping it, even without a name ("a sign-in account in another district"), told the school that the address
    signs in somewhere: another district's accounts are none of its runs' business. That account is not touched."""
    sid = sorted(s for s, p in directory(school).items() if p.source_id and p.role == "student")[0]
    old = directory(school)[sid].email
    change_sis_person(box, sid, email="changed@students.sandbox.example.org", givenName="Renamed")
    run = sync(school)
    elsewhere = make_person(make_school(), role="owner", password="a-long-password-1", email=old)
    undo = _undo(run)
    assert undo.status == "succeeded"
    assert directory(school)[sid].email == old
    messages = db.session.scalars(db.select(SyncIssue.message).where(SyncIssue.run_id == undo.id)).all()
    assert not [m for m in messages if old in m or "sign-in" in m]
    db.session.refresh(elsewhere)
    assert (elsewhere.email, elsewhere.can_sign_in) == (old, True)


def test_people_the_sync_skipped_are_not_part_of_its_undo(school, box):
    set_flags(school, auto_update=False)
    sids = sorted(s for s, p in directory(school).items() if p.source_id and p.role == "student")
    for sid in sids[:2]:
        change_sis_person(box, sid, givenName="Skipped")
    added = add_sis_person(box, sids[5])
    run = sync(school)
    assert changes(run, "skip") and run.created == 1
    before = {sid: (p.given_name, p.status) for sid, p in directory(school).items() if sid != added}
    undo = _undo(run)
    assert (undo.archived, undo.updated, undo.issues) == (1, 0, 0)
    assert {sid: (p.given_name, p.status) for sid, p in directory(school).items() if sid != added} == before
