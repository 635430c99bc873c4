"""Issue 17 in a real browser, with screenshots (test-artifacts/screenshots/17-*.png): names beside ids and skipped
people (2, 7, 8), the bar's colours (13), parent contacts, the empty People page and archiving (15, 19), the overview
and Your schools (11), run numbers (16). Each at 1280 px and at 390 px."""
import itertools
import re

import pytest
from playwright.sync_api import expect

from portal.rostering import service
from store.db import db
from store.models import Person
from tests.factories import (PASSWORD, make_change, make_district, make_district_manager, make_owner, make_person,
                             make_run, make_school)
from tests.support import (SETTINGS, directory, expected_people, sandbox_fixture, sandbox_values, screenshot,
                           sign_in, sync)

pytestmark = pytest.mark.browser
WIDTHS = {"wide": 1280, "phone": 390}

sis = sandbox_fixture(schools=1, students=20, seed=41, scope="module")
NEW_NAMES = itertools.count(1)


@pytest.fixture(params=list(WIDTHS))
def width(request, page):
    page.set_viewport_size({"width": WIDTHS[request.param], "height": 900})
    return request.param


@pytest.fixture
def school(app, sis):
    school = make_school(make_district(name="Trace Unified"), name="Trace High", slug="trace-high")
    conn = service.save_connection(school, "oneroster", sandbox_values(sis), actor=None)
    service.save_sync_settings(conn, **{**SETTINGS, "auto_update": False, "sync_parents": True})
    school.owner = make_owner(school)
    return school


def test_preview_and_run_page_name_each_person_and_say_why_they_were_skipped(page, school, sis, width):
    sync(school)
    student = next(p for p in expected_people(sis).values() if p.role == "student")
    # The sandbox lives for the module and each width runs this test again: a name never used before.
    sis.rename(student.source_id, given_name=f"Renamed {width} {next(NEW_NAMES)}")
    person = directory(school)[student.source_id]

    sign_in(page, school.owner.email, PASSWORD)
    page.goto(f"/schools/{school.slug}/rostering")
    preview = sync(school, trigger="preview")
    assert preview.skipped == 1, preview.counts()
    page.reload()
    progress = page.locator("#run-progress")
    expect(progress).to_contain_text(f"Preview #{preview.number}")
    expect(progress).to_contain_text("Changed in the SIS, but Auto update is off")
    screenshot(page, f"17-08-preview-skip-reasons-{width}")

    page.get_by_role("link", name="See who would be skipped").click()
    skipped = page.locator("table.skips")
    expect(skipped).to_contain_text(person.full_name)
    expect(skipped).to_contain_text(f"Student · {student.source_id}")
    expect(page.get_by_role("link", name="Run details")).to_have_count(0)  # the run page never links to itself
    screenshot(page, f"17-02-run-page-names-{width}")

    skipped.get_by_role("link", name=person.full_name).click()
    expect(page).to_have_url(re.compile(rf"/people\?q={re.escape(student.source_id)}#person-{person.id}$"))
    expect(page.locator(f"#person-{person.id}")).to_contain_text(student.source_id)
    screenshot(page, f"17-02-people-found-by-record-id-{width}")


@pytest.mark.parametrize("status", ["failed", "needs_review", "skipped", "succeeded"])
def test_the_bar_takes_the_colour_of_the_outcome(page, school, status, width):
    fields = {"failed": dict(percent=40, error_message="The SIS refused the Client ID and Secret (401)."),
              "needs_review": dict(percent=100, would_archive=5, rostered_total=20, archive_threshold_applied=10),
              "skipped": dict(percent=100, error_message="Discarded by an owner after review. Nothing was changed."),
              "succeeded": dict(percent=100, issues=2, created=20)}[status]
    run = make_run(school, status=status, phase=status, **fields)
    if status == "needs_review":
        leaver = make_person(school, given_name="Lee", family_name="Leaving", source_id="stu-leaving-1")
        make_change(run, action="archive", person=leaver, field="status", before="active", after="archived")
    sign_in(page, school.owner.email, PASSWORD)
    page.goto(f"/schools/{school.slug}/rostering/runs/{run.id}")
    bar = page.locator("#run-progress-bar")
    expect(bar).to_have_class(re.compile("progress-(failed|needs_review|skipped|issues)"))
    colour = bar.evaluate("el => getComputedStyle(el).accentColor")
    assert colour != "rgb(35, 86, 199)", "not the running blue"  # var(--brand)
    if status in ("needs_review", "skipped"):
        assert bar.get_attribute("value") == "90"  # never applied: not a full bar
    if status == "needs_review":
        expect(page.locator(".review")).to_contain_text("Lee Leaving")
        expect(page.locator(".review")).to_contain_text("Student · stu-leaving-1")
    screenshot(page, f"17-13-bar-{status}-{width}")


def test_people_shows_parent_contacts_and_asks_before_archiving(page, browser, live_server, school, sis, width):
    sync(school)
    db.session.expire_all()
    child = db.session.scalar(db.select(Person).where(Person.school_id == school.id, Person.parent_name != "")
                              .order_by(Person.id).limit(1))
    assert child is not None, "the sandbox links parents to some students"
    sign_in(page, school.owner.email, PASSWORD)
    page.goto(f"/schools/{school.slug}/people?q={child.source_id}")
    row = page.locator(f"#person-{child.id}")
    expect(row.locator(".parent-contact")).to_contain_text(child.parent_name)
    row.get_by_role("button", name=f"Archive: {child.full_name}").click()
    expect(row.get_by_text(f"Archive {child.full_name}?")).to_be_visible()
    screenshot(page, f"17-19-archive-question-{width}")
    db.session.expire_all()
    assert db.session.get(Person, child.id).status == "active"  # asked, not done
    row.get_by_role("button", name=f"Yes, archive {child.full_name}").click()
    expect(page.locator(f"#person-{child.id}")).to_contain_text("Archived")

    # without JavaScript the same button leads to a page that asks
    other = db.session.scalar(db.select(Person).where(Person.school_id == school.id, Person.role == "teacher")
                              .order_by(Person.id).limit(1))
    context = browser.new_context(base_url=live_server, java_script_enabled=False,
                                  viewport={"width": WIDTHS[width], "height": 900})
    try:
        plain = context.new_page()
        sign_in(plain, school.owner.email, PASSWORD)
        plain.goto(f"/schools/{school.slug}/people?q={other.source_id}")
        plain.get_by_role("button", name=f"Archive: {other.full_name}").click()
        expect(plain.get_by_text(f"Archive {other.full_name}?")).to_be_visible()
        screenshot(plain, f"17-19-archive-page-without-js-{width}")
        plain.get_by_role("button", name=f"Yes, archive {other.full_name}").click()
        db.session.expire_all()
        assert db.session.get(Person, other.id).status == "archived"
    finally:
        context.close()


def test_a_new_school_points_to_rostering(page, app, width):
    school = make_school(make_district(), name="Brand New School", slug="brand-new")
    owner = make_owner(school)
    sign_in(page, owner.email, PASSWORD)
    page.goto(f"/schools/{school.slug}/people")
    expect(page.locator(".empty-people")).to_contain_text("No one here yet.")
    page.locator(".empty-people").get_by_role("link", name="the Rostering page").click()
    expect(page).to_have_url(re.compile(r"/schools/brand-new/rostering$"))
    page.goto(f"/schools/{school.slug}/people")
    screenshot(page, f"17-19-empty-people-{width}")


def test_the_overview_and_your_schools_say_how_each_school_is_doing(page, school, width):
    second = make_school(school.district, name="Trace Middle", slug="trace-middle")
    make_run(second, status="failed", error_message="The SIS was unreachable.")
    run = make_run(school, status="succeeded", issues=2, created=12)
    for _ in range(3):
        make_person(school)
    manager = make_district_manager(school.district)
    sign_in(page, manager.email, PASSWORD)
    expect(page.locator(".school-list")).to_contain_text("Succeeded with 2 issues")
    screenshot(page, f"17-11-your-schools-{width}")
    page.goto(f"/districts/{school.district_id}/rostering")
    expect(page.locator("table.schedule")).to_contain_text("Succeeded with 2 issues")
    expect(page.locator("table.schedule")).to_contain_text("Failed")
    screenshot(page, f"17-11-overview-{width}")
    page.get_by_role("link", name=f"Sync #{run.number}").first.click()
    expect(page.get_by_role("heading", name=f"Sync #{run.number}")).to_be_visible()
