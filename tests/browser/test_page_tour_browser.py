"""Every page at the browser suite's widths (1280 px and 390 px, see conftest `viewport`): no page wider than the
screen, no console error (no favicon 404, no CSP refusal), a screenshot of each (#17.3, #17.17)."""
import pytest
from playwright.sync_api import expect

from tests.factories import (PASSWORD, make_audit_event, make_change, make_connection, make_district,
                             make_district_audit_event, make_district_manager, make_issue, make_owner, make_pause, make_person, make_run,
                             make_school, make_source)
from tests.support import screenshot, sign_in

pytestmark = pytest.mark.browser
LONG = "maximilian.alexandrovich-oyelaran-featherstonehaugh"


@pytest.fixture
def school(app):
    """A school with all a page can show: people with long emails, runs with issues and changes, audit, a pause."""
    from datetime import date
    school = make_school(make_district(name="Tour Unified", timezone="America/New_York"), name="Tour High School",
                         slug="tour-high")
    make_connection(school, url="https://very-long-district-hostname.example.org/aeries-production-site/")
    people = [make_person(school, role=role, given_name=f"Given{n}", family_name=f"Family-Name-{n}",
                          email=f"{LONG}.{n}@students.very-long-district-hostname.example.org",
                          source_id=f"stu-0810111-{n}", sis_id=f"{n:06d}", grade="11")
              for n, role in enumerate(["student"] * 12 + ["teacher", "staff", "school_admin"])]
    run = make_run(school, trigger="nightly", status="succeeded", phase="succeeded", created=12, updated=2,
                   archived=1, issues=2, fetched=15)
    for person in people[:3]:
        make_change(run, "update", person, field="email", before=person.email, after=f"new.{person.email}")
    make_issue(run, source_id="stu-0810111-99", message="Record stu-0810111-99 has no family name; it was skipped. "
               "Fix it in the SIS: " + LONG * 2)
    make_issue(run, source_id="stu-0810111-98", kind="bad_email", message="Email " + LONG + "@ is not valid.")
    make_audit_event(school, "settings_changed", detail="Connection saved: Aeries, https://very-long-district-"
                     "hostname.example.org/aeries-production-site/, client id " + LONG)
    make_pause(school, date(2027, 6, 1), date(2027, 6, 20), note="Year-end rollover " + LONG)
    school.owner = make_owner(school)
    school.run = run
    return school


def assert_fits(page, name):
    """The page is no wider than the viewport (a wide table scrolls inside its card instead)."""
    page.wait_for_load_state("networkidle")
    width = page.viewport_size["width"]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, f"tour-{name}")
    assert scroll <= width, f"{name} is {scroll} px wide at a {width} px viewport"
    assert unexpected(page.console_errors) == [], (name, page.console_errors)


def unexpected(errors: list[str]) -> list[str]:
    """Console errors, less Chromium's network notes of the portal's honest 409/422 answers to a rejected form."""
    honest = ("status of 409 (CONFLICT)", "status of 422 (UNPROCESSABLE ENTITY)")
    return [e for e in errors if not (e.startswith("Failed to load resource") and e.endswith(honest))]


def test_every_page_of_an_owner_fits_the_screen_without_console_errors(page, school):
    slug = school.slug
    page.goto("/login")
    assert_fits(page, "01-sign-in")
    sign_in(page, school.owner.email, PASSWORD)
    for name, path in (("02-home", "/"), ("03-people", f"/schools/{slug}/people"),
                       ("04-rostering", f"/schools/{slug}/rostering"),
                       ("05-run", f"/schools/{slug}/rostering/runs/{school.run.id}"),
                       ("06-audit", f"/schools/{slug}/rostering/audit"),
                       ("07-overview", "/district/rostering"), ("08-password", "/account/password")):
        response = page.goto(path)
        assert response.status == 200, (path, response.status)
        assert_fits(page, name)
    # The wide People table scrolls inside its card, and every column is still there.
    page.goto(f"/schools/{slug}/people")
    expect(page.locator("table.people")).to_contain_text("Family-Name-1")


def test_a_district_managers_pages_fit_too(page, school):
    make_school(school.district, name="A Second School With A Rather Long Name Indeed", slug="second")
    source = make_source(school.district, name="Tour Unified — Aeries production " + LONG)
    manager = make_district_manager(school.district)
    make_district_audit_event(school.district, "source_added", manager, detail=f"District source {source.name} saved: "
                              "Aeries, https://very-long-district-hostname.example.org/aeries-production-site/")
    sign_in(page, manager.email, PASSWORD)
    assert_fits(page, "09-manager-home")
    page.goto("/district/rostering")
    assert_fits(page, "10-manager-overview")
    for name, path in (("12-sources", f"/districts/{school.district_id}/sources"),
                       ("13-source", f"/districts/{school.district_id}/sources/{source.id}"),
                       ("14-district-audit", f"/districts/{school.district_id}/sources/audit")):
        response = page.goto(path)
        assert response.status == 200, (path, response.status)
        assert_fits(page, name)


def test_rejected_saves_raise_no_console_errors(page, school):
    """After a rejected connection save and a rejected settings save (both 422), the console stays clean."""
    sign_in(page, school.owner.email, PASSWORD)
    page.goto(f"/schools/{school.slug}/rostering")
    page.get_by_label("Aeries URL").fill("https://demo.aeries.net")
    page.get_by_label("Consumer Secret Key").fill("typed-and-kept")
    page.get_by_role("button", name="Save connection").click()
    expect(page.locator("#field-url-wrap .error")).to_contain_text("sub-directory")
    # The typed secret is still in the field (the browser kept it; the server never sent it back).
    expect(page.get_by_label("Consumer Secret Key")).to_have_value("typed-and-kept")
    settings = page.locator("#sync-settings")
    for role in ("Students", "Teachers", "Staff", "School admins"):
        settings.get_by_label(role, exact=True).uncheck()
    settings.get_by_role("button", name="Save settings").click()
    expect(settings.locator("#setting-roles-error")).to_contain_text("would sync nobody")
    assert_fits(page, "11-rejected-saves")
