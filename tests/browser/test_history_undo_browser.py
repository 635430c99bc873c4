"""History at a glance, Undo a sync and the demo's Simulate SIS changes, in a real browser at 1280 px and 390 px."""
import pytest
from playwright.sync_api import expect

from store.db import db
from tests.factories import PASSWORD, make_district, make_district_manager, make_owner, make_run, make_school
from tests.support import change_sis_person, connect, directory, sandbox_fixture, screenshot, set_flags, sign_in, sync

pytestmark = pytest.mark.browser
sis = sandbox_fixture(schools=2, students=80, seed=53, scope="module")


@pytest.fixture
def school(app, sis):
    """A school with a history: a first sync, renames, a failed run, a held run, people leaving."""
    sis.clear_faults()
    district = make_district(name="Harbor Unified")
    school = make_school(district, name="Harbor High", slug="harbor-high")
    school.owner = make_owner(school)
    school.manager = make_district_manager(district)
    school.sibling = make_school(district, name="Bayside Middle", slug="bayside-middle")
    connect(school, sis, archive=True, auto_update=True)
    connect(school.sibling, sis, 1)
    sync(school)
    sync(school.sibling)
    students = sorted(sid for sid, p in directory(school).items() if p.source_id and p.role == "student")
    for sid in students[:6]:
        change_sis_person(sis, sid, givenName="Typo")
    sync(school)
    make_run(school, status="failed", error_message="The SIS did not answer. Nothing was changed.")
    for sid in students[6:9]:
        change_sis_person(sis, sid, status="tobedeleted")
    school.bad_run = sync(school, threshold_override=100)
    assert school.bad_run.archived == 3
    make_run(school, status="needs_review", would_archive=9, rostered_total=45)  # last: a new sync replaces it
    return school


def test_the_rostering_page_draws_the_history_with_held_and_failed_runs(page, school):
    sign_in(page, school.owner.email, PASSWORD)
    page.goto(f"/schools/{school.slug}/rostering")
    chart = page.locator("#history-glance svg")
    expect(chart).to_be_visible()
    expect(page.locator("#history-glance g.mark-failed")).to_have_count(1)
    expect(page.locator("#history-glance g.mark-needs_review")).to_have_count(1)
    expect(page.locator("#history-glance .line-student polyline")).to_have_count(1)
    assert "5 runs (1 held, 1 failed)" in page.locator("#history-glance figcaption").inner_text()
    page.get_by_text("Show the chart as a table").click()
    expect(page.locator("#history-glance table tbody tr")).to_have_count(5)
    page.locator("#history-glance").scroll_into_view_if_needed()
    page.locator("#history-glance").screenshot(path=str(screenshot(page, "history-01-rostering-chart-1280")))


def test_the_chart_fits_a_phone(browser, live_server, school):
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    try:
        phone = context.new_page()
        sign_in(phone, school.owner.email, PASSWORD)
        phone.goto(f"/schools/{school.slug}/rostering")
        figure = phone.locator("#history-glance figure").bounding_box()
        assert figure["x"] >= 0 and figure["x"] + figure["width"] <= 390  # the chart scrolls inside its card
        assert phone.locator("#history-glance svg").bounding_box()["width"] >= 560  # labels stay readable
        phone.locator("#history-glance").screenshot(path=str(screenshot(phone, "history-02-rostering-chart-390")))
    finally:
        context.close()


def test_the_district_overview_shows_each_schools_history(page, school):
    sign_in(page, school.manager.email, PASSWORD)
    page.goto(f"/districts/{school.district_id}/rostering")
    expect(page.get_by_role("heading", name="History at a glance")).to_be_visible()
    expect(page.locator(".history-chart svg")).to_have_count(2)
    expect(page.get_by_role("img", name="Sync history of Bayside Middle")).to_be_visible()
    screenshot(page, "history-03-district-overview")


def test_an_owner_previews_and_undoes_a_sync(page, school):
    bad = school.bad_run
    sign_in(page, school.owner.email, PASSWORD)
    page.goto(f"/schools/{school.slug}/rostering/runs/{bad.id}")
    page.get_by_role("link", name="Undo this sync…").click()
    expect(page.get_by_role("heading", name=f"Undo sync #{bad.shown_number}")).to_be_visible()
    expect(page.locator('[data-count="restores"] strong')).to_have_text("3")
    screenshot(page, "history-04-undo-preview")
    page.set_viewport_size({"width": 390, "height": 844})
    card = page.locator("section.undo").bounding_box()
    assert card["x"] >= 0 and card["x"] + card["width"] <= 390
    screenshot(page, "history-04b-undo-preview-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name=f"Undo sync #{bad.shown_number}").click()
    expect(page.get_by_text(f"Sync #{bad.shown_number} undone: 3 people put back, 0 archived.")).to_be_visible()
    expect(page.get_by_text(f"This run undid sync #{bad.shown_number}.", exact=False)).to_be_visible()
    screenshot(page, "history-05-undo-run")
    db.session.expire_all()
    assert {p.status for p in directory(school).values() if p.source_id} == {"active"}
    page.goto(f"/schools/{school.slug}/rostering/runs/{bad.id}/undo")
    expect(page.get_by_text("already undone by run #")).to_be_visible()


def test_simulate_sis_changes_then_preview_in_the_demo(page, live_app, sis, school, sync_worker):
    live_app.config["DEMO_SANDBOX_URL"] = sis.info["admin_url"]
    try:
        set_flags(school.sibling, auto_update=False, archive=False)
        sign_in(page, school.manager.email, PASSWORD)
        page.goto(f"/schools/{school.sibling.slug}/rostering")
        page.get_by_role("button", name="Simulate SIS changes").click()
        expect(page.get_by_text("The demo SIS renamed 5 people (new last names), marked 3 as leaving and "
                                "enrolled 3 new students.")).to_be_visible()
        page.get_by_role("button", name="Preview").click()
        expect(page.locator("#run-progress.run-succeeded")).to_be_visible()
        expect(page.locator('#run-progress [data-count="created"] strong')).to_have_text("3")
        screenshot(page, "history-06-demo-simulate-then-preview")
    finally:
        live_app.config["DEMO_SANDBOX_URL"] = ""

