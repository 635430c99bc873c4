"""Issue 17, what an admin reads: names beside ids (2), plain words (7), skipped people (8), run numbers and one
vocabulary (16), parent contacts (15), an empty People page and archiving (19)."""
import csv
from html import unescape
import importlib.util
import io
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import event, text as sql

from store.db import db
from store.models import AuditEvent, Person, SyncIssue, SyncRun
from tests.factories import (make_change, make_connection, make_district, make_district_manager, make_issue,
                             make_owner, make_person, make_run, make_school)
from tests.support import (changes, connect, csrf_token, directory, expected_people, sandbox_fixture, set_flags,
                           sync, text)

HX = {"HX-Request": "true"}
sandbox = sandbox_fixture(schools=1, students=20, seed=17)


@pytest.fixture
def school(app):
    return make_school(make_district(), slug="trace")


@pytest.fixture
def owner(school, auth):
    person = make_owner(school)
    auth.login(person.email)
    return person


def page(client, path, **kwargs):
    response = client.get(f"/schools/trace{path}", **kwargs)
    assert response.status_code == 200, (path, response.status_code)
    return text(response)


def a_student(sandbox):
    return next(p for p in expected_people(sandbox).values() if p.role == "student")


# -- 2 and 8: who was changed or skipped, by name and role, linked to People --------------------------------------

def test_skipped_people_are_listed_by_name_with_the_reason_and_a_link(client, school, owner, sandbox):
    connect(school, sandbox, auto_update=False)
    sync(school)
    student = a_student(sandbox)
    sandbox.rename(student.source_id, given_name="Renamed")

    run = sync(school)
    person = directory(school)[student.source_id]
    [skip] = [c for c in changes(run, "skip") if c.source_id == student.source_id]
    assert skip.field == "auto_update_off" and run.skipped >= 1

    html = unescape(page(client, f"/rostering/runs/{run.id}"))
    assert f"Skipped ({run.skipped:,})" in html
    assert "Changed in the SIS, but Auto update is off" in html
    link = f'/schools/trace/people?q={student.source_id}#person-{person.id}'
    assert f'href="{link}">{person.full_name}</a>' in html and "Student · " + student.source_id in html
    # the link finds them: People searches the sourcedId too
    assert person.full_name.split()[0] in unescape(page(client, f"/people?q={student.source_id}"))


def test_preview_names_auto_update_only_when_it_is_off(client, school, owner, sandbox):
    connect(school, sandbox, auto_update=True)
    sync(school)
    student = a_student(sandbox)
    person = directory(school)[student.source_id]
    person.sync_enabled = False  # excluded by hand: skipped, and Auto update (on) is not the reason
    db.session.commit()
    sandbox.rename(student.source_id, given_name="Renamed")

    preview = sync(school, trigger="preview")
    html = page(client, f"/rostering/runs/{preview.id}/progress")
    assert "Would skip 1" in html and "1 · Excluded from sync in People" in html
    assert "Auto update is off" not in html

    set_flags(school, auto_update=False)
    other = next(p for p in expected_people(sandbox).values() if p.role == "student" and p.source_id != student.source_id)
    sandbox.rename(other.source_id, family_name="Elsewhere")
    html = page(client, f"/rostering/runs/{sync(school, trigger='preview').id}/progress")
    assert "Changed in the SIS, but Auto update is off" in html


def test_preview_shows_field_labels_and_names_not_keys(client, school, owner, sandbox):
    connect(school, sandbox, auto_update=True)
    sync(school)
    student = a_student(sandbox)
    sandbox.rename(student.source_id, given_name="Renamed")
    preview = sync(school, trigger="preview")

    html = page(client, f"/rostering/runs/{preview.id}/progress")
    assert "First name" in html and "given_name" not in html and "Would update (1)" in html
    run_html = page(client, f"/rostering/runs/{preview.id}")
    assert "<td>First name</td>" in run_html and "<td>given_name</td>" not in run_html
    assert "Would update" in run_html  # the change log of a preview says what it would do


def test_the_change_log_names_people_in_two_queries_whatever_the_page_holds(client, school, owner):
    def person_queries(count):
        run = make_run(school, status="succeeded")
        for n in range(count):
            person = make_person(school, source_id=f"src-{count}-{n}")
            make_change(run, person=person, field="given_name", before="Old", after=person.given_name)
            make_issue(run, source_id=f"src-{count}-{n}", kind="possible_duplicate", message="Possible duplicate.")
        seen = []

        def spy(conn, cursor, statement, *args):
            if "FROM person" in statement:
                seen.append(statement)
        event.listen(db.engine, "before_cursor_execute", spy)
        try:
            html = page(client, f"/rostering/runs/{run.id}")
        finally:
            event.remove(db.engine, "before_cursor_execute", spy)
        assert html.count('class="person-ref"') == 2 * count  # the issue and the change of each person
        return len(seen)

    assert person_queries(3) == person_queries(40)


def test_the_issues_csv_gives_name_role_and_words_never_the_raw_record(client, school, owner):
    person = make_person(school, role="teacher", given_name="Ada", family_name="Lovelace", source_id="tch-1")
    run = make_run(school, status="succeeded", issues=2)
    make_issue(run, source_id="tch-1", kind="possible_duplicate", message="Possible duplicate of Ada.")
    make_issue(run, source_id="stu-9", kind="bad_record", message="The record has no family name.",
               record='{"sourcedId": "stu-9", "givenName": "Bo"}')

    rows = list(csv.reader(io.StringIO(client.get(f"/schools/trace/rostering/runs/{run.id}/issues.csv")
                                       .get_data(as_text=True))))
    assert rows[0] == ["Run", "Name", "Role", "SIS record id", "Problem", "What happened"]
    assert rows[1] == [f"#{run.number}", "Ada Lovelace", "Teacher", "tch-1", "Possible duplicate",
                       "Possible duplicate of Ada."]
    assert rows[2][1:5] == ["", "", "stu-9", "Unreadable record"] and "{" not in "".join(rows[2])

    html = page(client, f"/rostering/runs/{run.id}")
    assert f"#person-{person.id}" in html and "Teacher · tch-1" in html
    # the raw record only behind a disclosure
    assert "<details class=\"raw-record\"><summary>Details: the record as the SIS sent it</summary>" in html
    assert "bad_record" not in html and "Unreadable record" in html


def test_a_broken_sis_record_keeps_its_message_plain(app, school, sandbox):
    connect(school, sandbox)
    student = a_student(sandbox)
    with sandbox.data.lock:
        sandbox.data.users[student.source_id]["familyName"] = None
        sandbox.data.users[student.source_id]["givenName"] = None
        sandbox.data.changed([student.source_id])
    run = sync(school)
    broken = list(db.session.scalars(db.select(SyncIssue).filter_by(run_id=run.id, kind="bad_record")))
    assert broken, "the sandbox record without a name should be an issue"
    assert all("{" not in i.message and "Record:" not in i.message for i in broken)
    assert all(student.source_id in i.record for i in broken)


# -- 7: the audit log in words ------------------------------------------------------------------------------

def test_saved_settings_are_audited_in_words(client, school, owner):
    make_connection(school)
    token = csrf_token(client, "/schools/trace/rostering")
    client.post("/schools/trace/rostering/settings", data={
        "csrf_token": token, "sync_students": "on", "sync_teachers": "on", "sync_time": "02:00",
        "archive_threshold_percent": "10"})
    event_ = db.session.scalar(db.select(AuditEvent).filter_by(action="settings_changed"))
    assert event_.detail.startswith("Students on, Teachers on, Staff off, School admins off, Parent contacts off, "
                                    "Auto update off, Archive off, Additions only off; Automatic Rostering off, "
                                    "nightly at 2:00 AM")  # the role and time as every page names them (item 18)
    assert "=" not in event_.detail and "sync_" not in event_.detail


# -- 16: run numbers per school, one vocabulary, no link to itself ------------------------------------------------

def test_runs_are_numbered_per_school_and_the_run_page_does_not_link_to_itself(client, school, owner):
    other = make_school(school.district)
    first = make_run(school, status="succeeded")
    make_run(other, status="succeeded")
    make_run(other, status="failed")
    second = make_run(school, status="succeeded", issues=2)
    assert (first.number, second.number) == (1, 2) and second.id == 4

    history = page(client, "/rostering/runs")
    assert ">#2</a>" in history and ">#4</a>" not in history and "Succeeded with 2 issues" in history
    html = page(client, f"/rostering/runs/{second.id}")
    assert "Sync #2" in html and "Succeeded with 2 issues" in html
    assert f'href="/schools/trace/rostering/runs/{second.id}"' not in html and "Run details" not in html
    # the live fragment polled from the run page keeps not linking to itself
    running = make_run(school, status="running", phase="fetching students")
    fragment = page(client, f"/rostering/runs/{running.id}/progress?on=run")
    assert "Run details" not in fragment and "on=run" in fragment
    assert "Run details" in page(client, f"/rostering/runs/{running.id}/progress")


def test_the_migration_numbers_existing_runs_per_school_in_order(app, school):
    path = next(Path("migrations/versions").glob("d8e2f4a6b1c3_*.py"))
    spec = importlib.util.spec_from_file_location("run_numbers_migration", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    other = make_school(school.district)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    runs = [make_run(s, created_at=start + timedelta(minutes=n)) for n, s in enumerate([school, other, school, school])]
    db.session.execute(sql("UPDATE sync_run SET number = NULL"))
    db.session.execute(sql(migration.NUMBER_EXISTING_RUNS))
    db.session.commit()
    db.session.expire_all()
    assert [db.session.get(SyncRun, r.id).number for r in runs] == [1, 1, 2, 3]


# -- 15, 19: People ----------------------------------------------------------------------------------------

def test_parent_contacts_show_on_the_person(client, school, owner):
    make_person(school, given_name="Kid", parent_name="Pat Parent", parent_email="pat@home.example",
                parent_phone="555-0101")
    html = page(client, "/people")
    assert "Parent contact: Pat Parent · pat@home.example · 555-0101" in html


def test_a_new_school_points_to_rostering_and_then_to_a_first_sync(client, school, owner):
    html = page(client, "/people")
    assert "No one here yet." in html and "Connect your SIS on" in html
    assert 'href="/schools/trace/rostering"' in html
    make_connection(school)
    assert "run Preview or Sync now" in page(client, "/people")
    make_person(school)
    assert "No one here yet" not in page(client, "/people")
    assert "No one here yet" not in page(client, "/people?q=nobody-by-that-name")


@pytest.mark.parametrize("htmx", [True, False])
def test_archiving_asks_first_with_and_without_javascript(client, school, owner, htmx):
    person = make_person(school, given_name="Sam", family_name="Stay")
    token = csrf_token(client, "/schools/trace/people")
    url = f"/schools/trace/people/{person.id}/archive"
    asked = client.post(url, data={"csrf_token": token}, headers=HX if htmx else {})
    html = text(asked)
    assert asked.status_code == 200 and "Archive Sam Stay?" in html and 'name="confirmed" value="yes"' in html
    assert ("<html" in html) is not htmx  # the row for htmx, a page of its own without JavaScript
    db.session.expire_all()
    assert db.session.get(Person, person.id).status == "active"

    done = client.post(url, data={"csrf_token": token, "confirmed": "yes"}, headers=HX if htmx else {})
    assert done.status_code == (200 if htmx else 302)
    db.session.expire_all()
    assert db.session.get(Person, person.id).status == "archived"


def test_the_archive_button_has_no_inline_script(client, school, owner):
    make_person(school)
    html = page(client, "/people")
    assert "onclick" not in html and "confirm(" not in html


# -- 11: the district overview and Your schools -------------------------------------------------------------

def test_overview_and_your_schools_show_outcome_with_issues_links_and_people(client, auth, school):
    sibling = make_school(school.district, slug="sibling")
    manager = make_district_manager(school.district)
    make_connection(school, automatic=True)
    run = make_run(school, status="succeeded", issues=2, finished_at=datetime.now(timezone.utc))
    for _ in range(3):
        make_person(school)
    auth.login(manager.email)

    overview = text(client.get(f"/districts/{school.district_id}/rostering"))
    assert "Succeeded with 2 issues" in overview
    assert f'href="/schools/trace/rostering/runs/{run.id}"' in overview and f"Sync #{run.number}" in overview
    assert ">3 active</a>" in overview and "see the issues" in overview

    home = text(client.get("/"))
    assert "Succeeded with 2 issues" in home and ">3 active</a>" in home
    assert f'href="/schools/trace/rostering/runs/{run.id}"' in home
    assert "Not connected: set up Rostering" in home  # the sibling has no connection yet
    assert sibling.name in home


def test_the_run_page_says_whether_its_report_email_went_out_and_why_not(client, school, owner):
    """An owner who chose the report and got none had no way to learn that the mail server refused it."""
    reason = "The mail server smtp.example.org:587 refused the login; check MAIL_USERNAME and MAIL_PASSWORD."
    failed = make_run(school, status="succeeded", report_status="not_sent", report_error=reason)
    sent = make_run(school, status="succeeded", report_status="sent")
    nobody = make_run(school, status="succeeded", report_status="none_opted_in")
    pending = make_run(school, status="running")

    def page_words(run):
        return " ".join(re.sub(r"<[^>]+>", " ", page(client, f"/rostering/runs/{run.id}")).split())
    assert f"Report email Not sent. {reason}" in page_words(failed)
    assert "Report email Sent" in page_words(sent)
    assert "Not sent: nobody chose to get this school's report" in page_words(nobody)
    assert "Report email" not in page_words(pending)
