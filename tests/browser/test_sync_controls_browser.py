"""Every sync control an Owner has, in a real browser: Rostering settings, Sync now, held runs, People Manager."""
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from store.db import db
from store.models import AuditEvent, BlackoutPeriod, Person, RosterConnection, SyncRun
from portal.rostering import service
from jobs.connection import get_connection
from tests.factories import PASSWORD, make_change, make_district, make_owner, make_person, make_run, make_school
from tests.support import sandbox_fixture, sandbox_values, screenshot, sign_in

pytestmark = pytest.mark.browser
ZONE = "America/Los_Angeles"

sis = sandbox_fixture(schools=1, students=20, seed=31, scope="module")


@pytest.fixture
def school(app, sis):
    """A school with a saved connection to the sandbox SIS and its owner."""
    school = make_school(make_district(name="Harbor Unified", timezone=ZONE), name="Harbor High", slug="harbor-high")
    service.save_connection(school, "oneroster", sandbox_values(sis), actor=None)
    school.owner = make_owner(school)
    return school


def connection(school) -> RosterConnection:
    db.session.expire_all()  # the live server wrote it through its own session
    return get_connection(school)


def open_page(page, school, tab):
    sign_in(page, school.owner.email, PASSWORD)
    page.goto(f"/schools/{school.slug}/{tab}")


def test_owner_sets_every_rostering_control_and_syncs_with_a_one_run_threshold(page, school, sync_worker):
    open_page(page, school, "rostering")
    settings = page.locator("#sync-settings")
    settings.get_by_label("Staff", exact=True).uncheck()
    settings.get_by_label("Include primary parent contact info").check()
    for toggle in ("Auto update", "Archive", "Additions only"):
        settings.get_by_label(toggle, exact=True).check()
    settings.get_by_label("Archive threshold (%)").fill("20")
    settings.get_by_label("Enable Automatic Rostering (sync every night)").check()
    settings.get_by_label("Nightly sync time").fill("03:15")
    expect(settings.locator("#role-rules-summary")).to_contain_text("Auto update and Archive apply to every role")
    settings.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Sync settings saved.")).to_be_visible()
    conn = connection(school)
    assert (conn.sync_staff, conn.sync_parents, conn.auto_update, conn.archive, conn.additions_only) == \
        (False, True, True, True, True)
    assert (conn.archive_threshold_percent, conn.automatic, conn.sync_time) == (20, True, "03:15")

    # A seasonal pause that ended last week: the page suggests a higher threshold for the first sync back.
    today = datetime.now(ZoneInfo(ZONE)).date()
    page.get_by_label("First day").fill(str(today - timedelta(days=30)))
    page.get_by_label("Last day").fill(str(today - timedelta(days=6)))
    page.get_by_label("Note (optional)").fill("Winter break")
    page.get_by_role("button", name="Add pause").click()
    expect(page.get_by_text("Nightly syncs are paused from")).to_be_visible()
    expect(page.locator(".pause-form").locator("xpath=preceding-sibling::table[1]")).to_contain_text("Winter break")
    hint = page.locator("#season-hint")
    expect(hint).to_contain_text("Your seasonal pause ended on")
    expect(hint).to_contain_text("25%")
    assert db.session.scalar(db.select(db.func.count(BlackoutPeriod.id))) == 1

    # The one-run threshold: a bad value is explained next to the field, a good one goes with the run.
    once = page.get_by_label("For this run only, allow archiving up to (%)")
    once.fill("150")
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#threshold-override-error")).to_contain_text("Give a percentage from 0 to 100")
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0
    screenshot(page, "sync-controls-01-settings-and-bad-override")

    page.get_by_label("For this run only, allow archiving up to (%)").fill("30")
    page.get_by_role("button", name="Sync now").click()
    progress = page.locator("#run-progress")
    expect(progress).to_contain_text("Sync finished", timeout=30_000)
    expect(page.get_by_label("For this run only, allow archiving up to (%)")).to_have_value("")
    db.session.expire_all()
    run = db.session.scalar(db.select(SyncRun))
    assert run.archive_threshold_override == 30 and run.status == "succeeded"
    assert "up to 30%" in db.session.scalar(db.select(AuditEvent.detail).filter_by(action="sync_started"))


def held_run(school, people, **fields) -> SyncRun:
    """A run the archive guard stopped, as the sync engine records it (no real sync needed)."""
    run = make_run(school, status="needs_review", phase="needs_review", percent=90, **fields)
    for person in people:
        make_change(run, "archive", person, field="status", before="active", after="archived")
    return run


def test_held_run_shows_its_share_and_is_discarded_or_approved(page, school, sync_worker):
    people = [make_person(school, given_name=name, family_name="Leaver", source_id=f"gone-{name}")
              for name in ("Ada", "Grace", "Alan")]
    first = held_run(school, people, would_archive=3, rostered_total=12)
    open_page(page, school, "rostering")
    review = page.locator("#run-progress .review")
    expect(review).to_contain_text(
        "This sync tried to archive 3 of 12 rostered people (25%), more than the 10% threshold")
    for person in people:
        expect(review).to_contain_text(person.full_name)

    page.locator("#run-progress").get_by_role("link", name="Run details").click()
    expect(page).to_have_url(re.compile(f"/runs/{first.id}$"))
    expect(page.locator(".review")).to_contain_text("(25%), more than the 10% threshold")
    screenshot(page, "sync-controls-02-held-run-page")
    page.get_by_role("button", name="Discard this run").click()
    expect(page.locator("#run-progress")).to_contain_text("Discarded by")
    expect(page.locator("#run-progress .badge")).to_have_text("Skipped")

    second = held_run(school, people, would_archive=2, rostered_total=12, archive_threshold_override=5)
    page.goto(f"/schools/{school.slug}/rostering")
    expect(page.locator("#run-progress .review")).to_contain_text(
        "This sync tried to archive 2 of 12 rostered people (16.7%), more than the 5% threshold")
    page.get_by_role("button", name="Approve and archive").click()
    expect(page.locator("#run-progress")).not_to_contain_text("waiting for review")
    expect(page.locator("#run-progress")).to_contain_text("Sync finished", timeout=30_000)
    db.session.expire_all()
    approved = db.session.get(SyncRun, second.id)
    assert approved.archive_override and approved.approved_by_id == school.owner.id
    assert db.session.get(SyncRun, first.id).status == "skipped"


def test_people_manager_exposes_person_and_role_sync_controls(page, school):
    student = make_person(school, role="student", given_name="Sam", family_name="Student", source_id="s-sam")
    make_person(school, role="teacher", given_name="Tess", family_name="Teacher", source_id="t-tess")
    open_page(page, school, "people")
    row = page.locator(f"#person-{student.id}")

    row.get_by_role("button", name="Exclude from SIS sync: Sam Student").click()
    expect(row).to_contain_text("excluded from SIS sync")
    row.get_by_role("button", name="Include in SIS sync: Sam Student").click()
    expect(row).to_contain_text("included in SIS sync again")
    row.get_by_role("button", name="Archive: Sam Student").click()
    row.get_by_role("button", name="Yes, archive Sam Student").click()  # archiving asks first (issue 17 item 19)
    expect(row.locator(".badge")).to_have_text("Archived")
    row.get_by_role("button", name="Restore: Sam Student").click()
    expect(row.locator(".badge")).to_have_text("Active")
    db.session.expire_all()
    assert db.session.get(Person, student.id).sync_enabled and db.session.get(Person, student.id).status == "active"

    expect(page.locator("#sync-rules")).not_to_contain_text("Sync rules for")
    page.get_by_label("Role").select_option("teacher")
    rules = page.locator("#sync-rules")
    expect(rules.get_by_role("heading", name="Sync rules for Teachers")).to_be_visible()
    expect(page.locator("table.people")).not_to_contain_text("Sam")
    expect(rules.get_by_label("Auto update changes them")).to_be_checked()
    rules.get_by_label("Archive removes them").uncheck()
    rules.get_by_role("button", name="Save rules for Teachers").click()
    expect(page.locator("#sync-rules")).to_contain_text("Saved. Teachers are never archived by sync.")
    screenshot(page, "sync-controls-03-people-role-rules")
    conn = connection(school)
    assert (conn.no_update_roles, conn.no_archive_roles) == ("", "teacher")

    page.get_by_role("link", name="Rostering", exact=True).click()
    summary = page.locator("#role-rules-summary")
    expect(summary).to_contain_text("Teachers are never archived by sync — change this in People")
    summary.get_by_role("link", name="change this in People").click()
    expect(page).to_have_url(re.compile(r"/people\?role=teacher#sync-rules$"))
    expect(page.get_by_label("Archive removes them")).not_to_be_checked()
    expect(page.get_by_label("Auto update changes them")).to_be_checked()
