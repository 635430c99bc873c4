"""Each sync setting's effect on the directory, against the sandbox SIS over real HTTP."""
import pytest

from store.db import db
from jobs.connection import get_connection
from store.models import Person
from tests.factories import make_person, make_school
from tests.support import (changes, connect, directory, expected_people, issues, sandbox_fixture, set_flags,
                           snapshot, sync)

sandbox = sandbox_fixture(seed=7, scope="module")
fresh_sandbox = sandbox_fixture(seed=11)  # for tests that change the SIS's data


@pytest.fixture
def school(app, sandbox):
    sandbox.clear_faults()
    return make_school()


def test_first_sync_creates_every_active_person_of_the_school(school, sandbox):
    connect(school, sandbox)
    run = sync(school)
    assert run.status == "succeeded", run.error_message
    expected = expected_people(sandbox)
    people = directory(school)
    assert set(people) == set(expected)
    some = next(iter(expected.values()))
    assert (people[some.source_id].given_name, people[some.source_id].role) == (some.given_name, some.role)
    assert run.created == len(expected) and run.updated == 0 and run.archived == 0
    leaving = [p for p in sandbox.people(0) if p.role != "parent" and p.is_leaving]
    assert run.skipped == len(leaving)
    assert len(changes(run, "create")) == len(expected)


def test_resync_of_unchanged_roster_changes_nothing(school, sandbox):
    connect(school, sandbox)
    sync(school)
    before = snapshot(school)
    run = sync(school)
    assert (run.status, run.created, run.updated, run.archived, run.linked) == ("succeeded", 0, 0, 0, 0)
    assert run.unchanged == len(expected_people(sandbox))
    assert snapshot(school) == before
    assert changes(run) == []


@pytest.mark.parametrize("flag,role", [("sync_students", "student"), ("sync_teachers", "teacher"),
                                       ("sync_staff", "staff"), ("sync_admins", "school_admin")])
def test_a_role_switched_off_is_not_created(school, sandbox, flag, role):
    connect(school, sandbox, **{flag: False})
    run = sync(school)
    assert run.status == "succeeded", run.error_message
    roles = {p.role for p in directory(school).values()}
    assert role not in roles
    assert roles == {"student", "teacher", "staff", "school_admin"} - {role}


def test_auto_update_off_skips_a_changed_name_and_on_updates_it(school, fresh_sandbox):
    connect(school, fresh_sandbox, auto_update=False)
    first = sync(school)
    student = next(p for p in expected_people(fresh_sandbox).values() if p.role == "student")
    fresh_sandbox.rename(student.source_id, given_name="Renamed")

    run = sync(school)
    assert (run.updated, run.skipped) == (0, first.skipped + 1)
    assert changes(run) == []
    assert directory(school)[student.source_id].given_name == student.given_name

    set_flags(school, auto_update=True)
    run = sync(school)
    assert run.updated == 1
    assert directory(school)[student.source_id].given_name == "Renamed"
    [change] = changes(run, "update")
    assert (change.field, change.before, change.after) == ("given_name", student.given_name, "Renamed")


def test_archive_off_keeps_people_who_left_and_archive_on_archives_them(school, fresh_sandbox):
    connect(school, fresh_sandbox, archive=False, archive_threshold_percent=100)
    sync(school)
    gone = fresh_sandbox.mutate(remove_fraction=0.03, seed=3, remove_mode="mixed")
    ours = [sid for sid in gone["tobedeleted"] + gone["dropped"] if sid in directory(school)]
    assert ours, "the mutation should remove someone of this school"

    run = sync(school)
    assert run.archived == 0
    assert all(directory(school)[sid].status == "active" for sid in ours)

    set_flags(school, archive=True)
    run = sync(school)
    assert run.archived == len(ours)
    people = directory(school)
    assert all(people[sid].status == "archived" and people[sid].archived_by == "sync" for sid in ours)
    assert {c.source_id for c in changes(run, "archive")} == set(ours)


def test_additions_only_creates_newcomers_and_changes_or_archives_nobody(school, fresh_sandbox):
    connect(school, fresh_sandbox, auto_update=True, archive=True, archive_threshold_percent=100)
    sync(school)
    student = next(p for p in expected_people(fresh_sandbox).values() if p.role == "student")
    fresh_sandbox.rename(student.source_id, given_name="Renamed")
    gone = fresh_sandbox.mutate(remove_fraction=0.03, seed=5, remove_mode="mixed")
    ours = [sid for sid in gone["tobedeleted"] + gone["dropped"] if sid in directory(school)]
    assert ours, "the mutation should remove someone of this school"
    before = snapshot(school)

    # The settings form refuses Additions only beside Auto update or Archive; a row saved before that rule still
    # has all three on, and the engine must still add only.
    conn = get_connection(school)
    conn.additions_only = True
    db.session.commit()
    run = sync(school)
    assert run.status == "succeeded", run.error_message
    assert (run.updated, run.archived) == (0, 0)
    assert directory(school)[student.source_id].given_name != "Renamed"
    assert snapshot(school) == before


def test_archive_never_touches_hand_made_people_owners_or_sync_disabled(school, fresh_sandbox):
    connect(school, fresh_sandbox, archive=True, archive_threshold_percent=100)
    sync(school)
    hand = make_person(school, role="teacher", email="hand@example.org")
    owner = make_person(school, role="owner", source_id="owner-gone", email="boss@example.org")
    pinned = make_person(school, role="student", source_id="pinned-gone", sync_enabled=False)
    run = sync(school)
    assert run.archived == 0
    for person in (hand, owner, pinned):
        db.session.refresh(person)
        assert person.status == "active"


def test_primary_parent_contact_is_the_first_guardian(school, sandbox):
    connect(school, sandbox, sync_parents=True)
    run = sync(school)
    assert run.status == "succeeded", run.error_message
    truth = {p.source_id: p for p in sandbox.people(0)}
    people = directory(school)
    checked = 0
    for student in (p for p in truth.values() if p.role == "student" and not p.is_leaving):
        guardians = [truth[a] for a in student.agent_ids if a in truth and not truth[a].is_leaving]
        firsts = [g for g in guardians if g.sis_role in ("guardian", "parent")] or guardians
        if not firsts:
            continue
        first = firsts[0]
        person = people[student.source_id]
        assert (person.parent_name, person.parent_email, person.parent_phone) == (
            f"{first.given_name} {first.family_name}", first.email.lower(), first.phone)
        checked += 1
    assert checked > 10
    assert not any(p.role == "parent" for p in people.values())


def test_parent_contact_stays_empty_when_switched_off(school, sandbox):
    connect(school, sandbox, sync_parents=False)
    sync(school)
    assert all(p.parent_name == "" for p in directory(school).values())


def test_a_hand_made_person_is_linked_by_email_not_duplicated(school, sandbox):
    teacher = next(p for p in expected_people(sandbox).values() if p.role == "teacher")
    hand = make_person(school, role="teacher", email=teacher.email.upper(), given_name=teacher.given_name,
                       family_name=teacher.family_name)
    connect(school, sandbox)
    run = sync(school)
    assert run.linked == 1
    db.session.refresh(hand)
    assert hand.source_id == teacher.source_id
    matches = db.session.scalars(db.select(Person).where(Person.school_id == school.id,
                                                         Person.source_id == teacher.source_id)).all()
    assert [p.id for p in matches] == [hand.id]
    assert run.created == len(expected_people(sandbox)) - 1
    assert [c.field for c in changes(run, "link")][0] == "source_id"


def test_an_owner_is_never_linked_to_a_teacher_record_with_their_email(school, sandbox):
    """Issue 12 finding 1: an owner used to be linked by email and then changed by SIS data."""
    teacher = next(p for p in expected_people(sandbox).values() if p.role == "teacher")
    owner = make_person(school, role="owner", email=teacher.email.lower())
    connect(school, sandbox)
    run = sync(school)
    db.session.refresh(owner)
    assert (owner.source_id, owner.role) == (None, "owner") and run.linked == 0
    assert teacher.source_id not in directory(school)
    assert [i.kind for i in issues(run) if i.source_id == teacher.source_id] == ["sign_in_account"]
    assert sync(school).updated == 0


def test_a_person_archived_by_hand_is_not_restored_but_reported(school, sandbox):
    connect(school, sandbox)
    sync(school)
    person = next(p for p in directory(school).values() if p.role == "student")
    person.status, person.archived_by = "archived", "manual"
    db.session.commit()
    run = sync(school)
    db.session.refresh(person)
    assert person.status == "archived"
    assert any(i.kind == "archived_here" and i.source_id == person.source_id for i in issues(run))


def test_preview_writes_nothing_to_the_directory(school, fresh_sandbox):
    connect(school, fresh_sandbox, archive=True, archive_threshold_percent=100)
    sync(school)
    fresh_sandbox.mutate(change_fraction=0.05, remove_fraction=0.02, seed=5)
    before = snapshot(school)
    run = sync(school, trigger="preview")
    assert run.status == "succeeded"
    assert snapshot(school) == before
    assert run.updated > 0 and run.archived > 0
    assert {c.action for c in changes(run)} >= {"update", "archive"}
