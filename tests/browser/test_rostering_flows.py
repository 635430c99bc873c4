"""What an Owner, a District Manager and a teacher see on the Rostering page in a real browser."""
import re

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, make_district, make_district_manager, make_owner, make_person, make_school
from tests.support import sandbox_fixture, screenshot, sign_in

pytestmark = pytest.mark.browser
aeries = sandbox_fixture("aeries", schools=2, students=25, seed=11, scope="module")


@pytest.fixture
def school(app):
    district = make_district(name="Lakeside Unified", timezone="America/Los_Angeles")
    return make_school(district, name="Lakeside High", slug="lakeside-high")


def open_rostering(page, school, email):
    sign_in(page, email, PASSWORD)
    page.get_by_role("link", name="Rostering", exact=True).click()
    expect(page.get_by_role("heading", name="SIS connection")).to_be_visible()


def fill_aeries(page, sandbox):
    info = sandbox.info
    page.get_by_label("SIS", exact=True).select_option("aeries")
    page.wait_for_load_state("networkidle")  # the fields partial swaps in; type after it
    page.get_by_label("Aeries URL").fill(info["base_url"] + "/")
    page.get_by_label("Consumer ID").fill(info["client_id"])
    page.get_by_label("Consumer Secret Key").fill(info["client_secret"])
    page.get_by_label("School ID").fill(info["school_ids"][0])


def test_owner_connects_aeries_syncs_and_sees_people(page, school, aeries, sync_worker):
    owner = make_owner(school)
    open_rostering(page, school, owner.email)
    fill_aeries(page, aeries)
    screenshot(page, "01-aeries-form-filled")
    page.get_by_role("button", name="Save connection").click()
    expect(page.get_by_text("Connection saved.")).to_be_visible()
    expect(page.locator("#field-client_secret-wrap .badge")).to_have_text("Saved")
    assert aeries.info["client_secret"] not in page.content()

    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("Connection works: every check passed.")).to_be_visible()
    expect(page.locator(".checklist li.failed, .checklist li.denied")).to_have_count(0)
    screenshot(page, "02-connection-test-green")

    page.get_by_role("button", name="Sync now").click()
    progress = page.locator("#run-progress")
    expect(progress.locator("label")).to_contain_text("100%", timeout=30_000)
    expect(progress).to_contain_text("Sync finished")
    expect(page.locator("#run-progress-bar")).to_have_attribute("value", "100")
    expect(page.locator("#history tbody tr")).to_have_count(1)
    expect(page.locator("#history")).to_contain_text("Succeeded")
    screenshot(page, "03-sync-finished")

    progress.get_by_role("link", name="Open People").click()
    expected = aeries.people(0)
    expect(page.locator("#people-count")).to_contain_text("people")
    first = sorted((p for p in expected if p.role in ("student", "teacher")),
                   key=lambda p: (p.family_name, p.given_name))[0]
    expect(page.locator("table.people")).to_contain_text(first.family_name)
    screenshot(page, "04-people-after-sync")


def test_campus_url_fills_in_the_app_name(page, school):
    owner = make_owner(school)
    open_rostering(page, school, owner.email)
    page.get_by_label("SIS", exact=True).select_option("infinite-campus")
    expect(page.get_by_label("App Name")).to_be_visible()
    expect(page.locator("#vendor-fields")).to_contain_text("OneRoster Provisioning")
    page.get_by_label("Client ID").fill("typed-before-url")
    page.get_by_label("URL", exact=True).fill(
        "https://campus.example.org/campus/api/oneroster/v1p1/lakesideApp/ims/oneroster/v1p1/users?limit=1")
    page.get_by_label("URL", exact=True).press("Tab")
    expect(page.get_by_label("App Name")).to_have_value("lakesideApp")
    expect(page.get_by_label("Client ID")).to_have_value("typed-before-url")
    screenshot(page, "05-campus-app-name")


def test_a_sis_picked_before_the_page_scripts_ran_still_gets_its_fields(page, school):
    """A quick pick while the page still loads (htmx not listening yet) must not leave Campus over Aeries' fields."""
    owner = make_owner(school)
    sign_in(page, owner.email, PASSWORD)
    held = []
    page.route("**/static/htmx-*.min.js", lambda route: held.append(route))  # hold htmx back until the SIS is picked
    page.goto(f"/schools/{school.slug}/rostering", wait_until="commit")
    page.get_by_label("SIS", exact=True).select_option("infinite-campus")
    while not held:
        page.wait_for_timeout(50)
    held[0].continue_()
    expect(page.get_by_label("App Name")).to_be_visible()
    expect(page.locator("#vendor-fields")).to_contain_text("OneRoster Provisioning")


def test_denied_area_shows_the_red_row_with_its_fix(page, school, aeries, sync_worker):
    owner = make_owner(school)
    open_rostering(page, school, owner.email)
    fill_aeries(page, aeries)
    aeries.set_faults(deny=["teachers", "users"])  # no listing left to fall back to
    try:
        page.get_by_role("button", name="Test connection").click()
        row = page.locator('.checklist li[data-check="read:teachers"]')
        expect(row).to_have_class(re.compile("denied"))
        expect(row).to_contain_text("Enable READ for Teacher Data on the Aeries API Security page, "
                                    "then do a full IIS reset.")
    finally:
        aeries.clear_faults()
    expect(page.locator(".checklist li.ok").first).to_be_visible()
    screenshot(page, "06-denied-area")


def test_invalid_field_is_reported_in_place(page, school):
    owner = make_owner(school)
    open_rostering(page, school, owner.email)
    page.get_by_label("Aeries URL").fill("https://demo.aeries.net")
    page.get_by_label("Consumer ID").fill("kept")
    page.get_by_role("button", name="Save connection").click()
    expect(page.locator("#field-url-wrap .error")).to_contain_text("sub-directory")
    expect(page.get_by_label("Consumer ID")).to_have_value("kept")
    screenshot(page, "07-validation")


def test_district_manager_sees_every_school_of_the_district(page, school):
    second = make_school(school.district, name="Hillside Middle", slug="hillside-middle")
    make_school(make_district(), name="Faraway Elementary", slug="faraway")
    manager = make_district_manager(school.district)
    sign_in(page, manager.email, PASSWORD)
    schools = page.locator(".school-list")
    expect(schools).to_contain_text("Lakeside High")
    expect(schools).to_contain_text("Hillside Middle")
    expect(schools).not_to_contain_text("Faraway Elementary")
    page.get_by_role("link", name="Hillside Middle").click()
    page.get_by_role("link", name="Rostering", exact=True).click()
    expect(page).to_have_url(re.compile(f"/schools/{second.slug}/rostering$"))
    expect(page.get_by_role("heading", name="Sync settings")).to_be_visible()


def test_teacher_cannot_reach_the_page(page, school):
    teacher = make_person(school, role="teacher", password=PASSWORD)
    sign_in(page, teacher.email, PASSWORD)
    response = page.goto(f"/schools/{school.slug}/rostering")
    assert response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_text("SIS connection")).to_have_count(0)
