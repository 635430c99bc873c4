"""Whole syncs against sandbox shapes of real servers: fallback listings, vendor formats, parent links."""
from datetime import datetime, timezone

import pytest

from jobs.connection import get_connection
from tests.factories import make_school
from tests.support import connect, directory, expected_people, issues, running_sandbox, sync


@pytest.fixture
def sandbox():
    with running_sandbox(schools=2, students=60, seed=41) as box:
        yield box


def test_a_sync_through_refused_school_listings_is_exact_and_says_which_listing_it_read(app, sandbox):
    sandbox.set_faults(refuse_listings=["schools/*/students", "schools/*/teachers"], refuse_how="iis")
    school = make_school()
    connect(school, sandbox)
    run = sync(school)
    assert run.status == "succeeded", run.error_message
    assert set(directory(school)) == set(expected_people(sandbox))
    listing = sorted(i.message for i in issues(run) if i.kind == "listing")
    sid = sandbox.data.school_ids[0]
    assert listing == [
        f"Students were read from the SIS's students listing, filtered to this school's people, because "
        f"schools/{sid}/students is not offered by this SIS (HTTP 404).",
        f"Teachers were read from the SIS's teachers listing, filtered to this school's people, because "
        f"schools/{sid}/teachers is not offered by this SIS (HTTP 404)."]
    again = sync(school)
    assert (again.status, again.created, again.updated, again.archived) == ("succeeded", 0, 0, 0)


def test_a_sync_against_unpaged_school_listings_is_exact(app, sandbox):
    sandbox.set_faults(unpaged=["schools/*/students", "schools/*/teachers"])
    school = make_school()
    connect(school, sandbox)
    run = sync(school)
    assert run.status == "succeeded", run.error_message
    assert set(directory(school)) == set(expected_people(sandbox))
    assert sync(school).created == 0


def test_a_sync_of_vendor_formats_is_exact_and_a_re_sync_changes_nothing(app, sandbox):
    sandbox.set_faults(vendor_formats=True)
    school = make_school()
    connect(school, sandbox)
    run = sync(school)
    assert (run.status, run.issues) == ("succeeded", 0), run.error_message
    assert set(directory(school)) == set(expected_people(sandbox))
    again = sync(school)
    assert (again.created, again.updated, again.archived, again.unchanged) == (0, 0, 0, run.created)


def test_an_unreadable_date_is_a_warning_and_keeps_the_delta_mark_at_the_run_start(app, sandbox):
    sandbox.set_faults(unreadable_dates=4)
    school = make_school()
    connect(school, sandbox)
    before = datetime.now(timezone.utc)
    run = sync(school)
    assert run.status == "succeeded", run.error_message
    warnings = [i.message for i in issues(run) if i.kind == "unreadable_date"]
    assert len(warnings) == 1 and "could not use (such as '09/21/2017' on " in warnings[0]
    conn = get_connection(school)
    mark = conn.high_water_mark if conn.high_water_mark.tzinfo else conn.high_water_mark.replace(tzinfo=timezone.utc)
    assert before <= mark <= datetime.now(timezone.utc)  # not left behind, not pushed past the run
    assert set(directory(school)) == set(expected_people(sandbox))


def test_a_guardian_linked_only_from_its_own_side_gives_the_students_parent_contact(app, sandbox):
    sandbox.set_faults(parent_links="guardian_side")  # students' own agents are empty
    school = make_school()
    connect(school, sandbox, sync_parents=True)
    assert sync(school).status == "succeeded"
    truth = {p.source_id: p for p in sandbox.people(0)}
    checked = 0
    for sid, person in directory(school).items():
        student = truth.get(sid)
        if person.role != "student" or student is None:
            continue
        guardians = [truth[a] for a in student.agent_ids if a in truth and not truth[a].is_leaving]
        best = [g for g in guardians if g.sis_role in ("guardian", "parent")] or guardians
        # without the student's own list there is no order among equal guardians: any of the best will do
        allowed = {(f"{g.given_name} {g.family_name}", g.email.lower(), g.phone) for g in best} or {("", "", "")}
        assert (person.parent_name, person.parent_email, person.parent_phone) in allowed, sid
        checked += bool(best)
    assert checked > 10
