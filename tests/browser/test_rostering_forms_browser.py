"""The Rostering page's forms in a real browser (#17 items 1, 4, 5, 6, 9, 10, 12, 14, 18), at both suite widths."""
import pytest
from playwright.sync_api import expect

from jobs.connection import get_connection
from store.db import db
from tests.factories import PASSWORD, make_connection, make_district, make_owner, make_school
from tests.support import sandbox_fixture, screenshot, sign_in

pytestmark = pytest.mark.browser
aeries = sandbox_fixture("aeries", schools=2, students=15, seed=23, scope="module")


@pytest.fixture
def school(app):
    school = make_school(make_district(name="Form Unified", timezone="America/Los_Angeles"), name="Form High",
                         slug="form-high")
    school.owner = make_owner(school)
    return school


def open_rostering(page, school):
    sign_in(page, school.owner.email, PASSWORD)
    page.goto(f"/schools/{school.slug}/rostering")
    expect(page.get_by_role("heading", name="SIS connection")).to_be_visible()


def fill_aeries(page, sandbox, school_id=None):
    info = sandbox.info
    page.get_by_label("Aeries URL").fill(info["base_url"] + "/")
    page.get_by_label("Consumer ID").fill(info["client_id"])
    page.get_by_label("Consumer Secret Key").fill(info["client_secret"])
    page.get_by_label("School ID").fill(school_id or info["school_ids"][0])


def focused(page) -> str:
    return page.evaluate("document.activeElement.className + ' ' + document.activeElement.textContent.trim()")


def test_keyboard_test_connection_moves_focus_to_the_result(page, school, aeries, sync_worker):
    """#17.12: Enter on Test connection puts focus on "Testing…", then on the checklist's headline."""
    open_rostering(page, school)
    fill_aeries(page, aeries)
    page.get_by_role("button", name="Test connection").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".checklist-title")).to_contain_text("Connection works", timeout=30_000)
    expect(page.locator(".checklist-title")).to_be_focused()
    screenshot(page, "forms-12-focus-on-test-result")


def test_a_failed_test_is_questioned_before_saving_and_stays_visible(page, school, aeries, sync_worker):
    """#17.4: the last test failed, so Save connection asks first; Save anyway saves, and the checklist stays."""
    open_rostering(page, school)
    fill_aeries(page, aeries, school_id="7")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator(".checklist-title")).to_contain_text("failed", timeout=30_000)
    page.get_by_role("button", name="Save connection").click()
    warning = page.locator("#save-warning")
    expect(warning).to_contain_text("The last test of these settings failed")
    expect(warning).to_be_focused()
    expect(page.get_by_label("Consumer Secret Key")).to_have_value(aeries.info["client_secret"])
    screenshot(page, "forms-04-save-warning")
    assert get_connection(school) is None
    warning.get_by_role("button", name="Save anyway").click()
    expect(page.get_by_text("Connection saved, although its last test failed")).to_be_visible()
    expect(page.locator(".checklist-title")).to_contain_text("failed")  # the result is still on the page
    screenshot(page, "forms-04-saved-with-result")
    db.session.expire_all()
    assert get_connection(school).sis_school_id == "7"


def test_replacing_a_saved_connection_untested_says_what_happens(page, school, aeries):
    make_connection(school, url=aeries.info["base_url"] + "/", client_id=aeries.info["client_id"],
                    sis_school_id=aeries.info["school_ids"][0])
    open_rostering(page, school)
    staff = page.locator("#sync-settings").get_by_label("Staff", exact=True)
    staff.uncheck()  # an unsaved edit in the other form (#17.14)
    page.get_by_label("Aeries URL").fill("https://sis.unreachable.example/aeries/")
    page.get_by_label("Consumer Secret Key").fill("a-new-secret")
    page.get_by_role("button", name="Save connection").click()
    expect(page.locator("#save-warning")).to_contain_text("the old secret is not kept")
    expect(page.get_by_label("Consumer Secret Key")).to_have_value("a-new-secret")
    screenshot(page, "forms-04-replace-warning")
    page.get_by_role("button", name="Save anyway").click()
    expect(page.get_by_text("Connection saved without a test")).to_be_visible()
    expect(staff).not_to_be_checked()  # only the connection form was swapped
    db.session.expire_all()
    assert get_connection(school).url == "https://sis.unreachable.example/aeries/"


def test_switching_sis_clears_the_other_vendors_values(page, school):
    """#17.5: Aeries values do not follow to Infinite Campus; pasting a URL there starts from empty."""
    open_rostering(page, school)
    page.get_by_label("Aeries URL").fill("https://district.aeries.net/aeries/")
    page.get_by_label("Consumer ID").fill("aeries-consumer")
    page.get_by_label("School ID").fill("994")
    page.get_by_label("SIS", exact=True).select_option("infinite-campus")
    expect(page.get_by_label("App Name")).to_be_visible()
    for label in ("URL", "Client ID", "School ID", "App Name"):
        expect(page.get_by_label(label, exact=True)).to_have_value("")
    page.get_by_label("URL", exact=True).fill("https://campus.example.org/campus/api/oneroster/v1p1/lakeside")
    page.get_by_label("URL", exact=True).press("Tab")
    expect(page.get_by_label("App Name")).to_have_value("lakeside")
    # #17.6: examples sit under the fields, no grey placeholder looks like a value.
    expect(page.locator("#field-app_name-wrap .example")).to_contain_text("For example: minga")
    assert page.locator("input[type=text][placeholder]").count() == 0
    screenshot(page, "forms-05-06-switched-to-campus")
    page.get_by_label("SIS", exact=True).select_option("aeries")
    expect(page.get_by_label("Aeries URL")).to_have_value("")


def test_settings_refuse_nobody_and_contradictions_and_keep_the_connection_edit(page, school):
    """#17.1, #17.9, #17.14: the reasons sit next to the toggles; an unsaved connection edit survives."""
    make_connection(school)
    open_rostering(page, school)
    page.get_by_label("Consumer ID").fill("edited-but-not-saved")
    settings = page.locator("#sync-settings")
    for role in ("Students", "Teachers", "Staff", "School admins"):
        settings.get_by_label(role, exact=True).uncheck()
    settings.get_by_role("button", name="Save settings").click()
    expect(settings.locator("#setting-roles-error")).to_contain_text(
        "Tick at least one of Students, Teachers, Staff or School admins")
    screenshot(page, "forms-01-nobody-to-sync")
    expect(page.get_by_label("Consumer ID")).to_have_value("edited-but-not-saved")

    settings.get_by_label("Students", exact=True).check()
    settings.get_by_label("Archive", exact=True).check()
    settings.get_by_label("Additions only", exact=True).check()
    expect(settings.get_by_label("Archive", exact=True)).not_to_be_checked()  # portal.js unticks the clash
    screenshot(page, "forms-09-additions-only")
    settings.get_by_label("Archive removes Teachers").uncheck()  # #17.10: per-role rules on the settings
    expect(settings.get_by_label("Nightly sync time")).to_contain_text("2:00 AM")  # #17.18
    settings.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Sync settings saved.")).to_be_visible()
    expect(page.locator("#role-rules-summary")).to_contain_text("Teachers are never archived by sync")
    expect(page.get_by_label("Consumer ID")).to_have_value("edited-but-not-saved")
    screenshot(page, "forms-10-rules-saved")
    db.session.expire_all()
    conn = get_connection(school)
    assert (conn.sync_students, conn.sync_teachers, conn.additions_only, conn.archive) == (True, False, True, False)
    assert conn.no_archive_roles == "teacher"


def test_sync_now_refuses_a_connection_that_syncs_nobody(page, school):
    make_connection(school, sync_students=False, sync_teachers=False, sync_staff=False, sync_admins=False)
    open_rostering(page, school)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".run-notice")).to_contain_text("a sync would sync nobody")
    screenshot(page, "forms-01-preview-refused")
