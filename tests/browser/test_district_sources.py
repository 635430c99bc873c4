"""A District Manager connects the district's SIS once, maps three schools (one by adding it to the portal), runs
tonight's sync now and sees each school's result on the overview (issue #14)."""
import re

import pytest
from playwright.sync_api import expect

from jobs.connection import get_connection, settings_for
from store.db import db
from store.models import School
from tests.factories import PASSWORD, make_district, make_district_manager, make_school
from tests.support import sandbox_fixture, screenshot, sign_in

pytestmark = pytest.mark.browser
aeries = sandbox_fixture("aeries", schools=4, students=25, seed=3, scope="module")


@pytest.fixture
def district(app):
    district = make_district(name="Demo Unified", timezone="America/Los_Angeles")
    make_school(district, name="OBrien Elementary", slug="obrien")
    make_school(district, name="Garcia Middle School", slug="garcia")
    return district


def add_source(page, sandbox):
    """From the overview to a saved Aeries source (no School ID: each school brings its own)."""
    info = sandbox.info
    page.get_by_role("link", name="Rostering overview").click()
    page.get_by_role("link", name="SIS sources").click()
    expect(page.get_by_role("heading", name="Add a source")).to_be_visible()
    page.get_by_label("SIS", exact=True).select_option("aeries")
    page.wait_for_load_state("networkidle")
    expect(page.get_by_label("School ID")).to_have_count(0)
    page.get_by_label("Aeries URL").fill(info["base_url"] + "/")
    page.get_by_label("Consumer ID").fill(info["client_id"])
    page.get_by_label("Consumer Secret Key").fill(info["client_secret"])
    page.get_by_label("Nightly time (America/Los_Angeles)").select_option(label="1:30 AM")
    page.get_by_role("button", name="Save source").click()
    expect(page.get_by_text('Source "Demo Unified — Aeries" saved.')).to_be_visible()
    expect(page.locator("#field-client_secret-wrap .badge")).to_have_text("Saved")
    assert info["client_secret"] not in page.content()


def test_a_district_manager_adds_a_source_tests_it_and_maps_three_schools(page, district, aeries, sync_worker):
    manager = make_district_manager(district)
    sign_in(page, manager.email, PASSWORD)
    add_source(page, aeries)
    screenshot(page, "sources-01-saved")

    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("Connection works: every check passed.")).to_be_visible()
    table = page.locator("#mapping table")
    expect(table.locator("tbody tr")).to_have_count(4)  # every school the SIS lists
    obrien, garcia, muller = (table.locator(f'tr[data-sis-id="{sis_id}"]') for sis_id in ("994", "5", "1"))
    expect(obrien).to_contain_text("Suggested: same name")
    expect(garcia).to_contain_text("Suggested: similar name")
    expect(muller.get_by_role("button", name="Add this school to the portal")).to_be_visible()
    screenshot(page, "sources-02-suggestions")

    obrien.get_by_role("button", name="Confirm mapping").click()
    expect(page.get_by_text("OBrien Elementary is mapped to SIS school 994.")).to_be_visible()
    garcia = page.locator('#mapping tr[data-sis-id="5"]')
    garcia.get_by_role("button", name="Confirm mapping").click()
    expect(page.get_by_text("Garcia Middle School is mapped to SIS school 5.")).to_be_visible()
    page.locator('#mapping tr[data-sis-id="1"]').get_by_role("button", name="Add this school to the portal").click()
    expect(page.get_by_text("Müller High School was added to the portal and mapped to this source.")).to_be_visible()
    expect(page.locator("#mapping")).to_contain_text("3 schools of Demo Unified sync from this source.")
    for sis_id in ("994", "5", "1"):
        expect(page.locator(f'#mapping tr[data-sis-id="{sis_id}"] .badge')).to_have_text("Mapped")
    screenshot(page, "sources-03-mapped")

    db.session.expire_all()
    schools = {s.name: s for s in db.session.scalars(db.select(School).where(School.district_id == district.id))}
    for name, sis_id in (("OBrien Elementary", "994"), ("Garcia Middle School", "5"), ("Müller High School", "1")):
        settings = settings_for(get_connection(schools[name]))
        assert (settings.school_id, settings.client_secret) == (sis_id, aeries.info["client_secret"])

    # Run tonight's sync now: the worker reads the SIS once for the three schools, each school syncs, and the
    # overview lists each school's result with a link to its run.
    page.get_by_role("button", name="Run tonight's sync now").click()
    expect(page.get_by_text("Tonight's sync of 3 schools is queued.")).to_be_visible()
    night = page.locator("#source-night")
    expect(night).to_contain_text("Every school synced", timeout=60_000)
    expect(night.get_by_role("button", name="Run tonight's sync now")).to_be_visible()  # it can run again
    night.get_by_role("link", name="Every source's last night on the Rostering overview").click()
    nights = page.locator("#source-nights")
    row = nights.locator("tr", has_text="Demo Unified — Aeries")
    expect(row).to_contain_text("Every school synced")
    expect(row).to_contain_text("Sync now")
    for name in ("OBrien Elementary", "Garcia Middle School", "Müller High School"):
        expect(row.locator("li", has_text=name).locator(".badge")).to_have_text("Succeeded")
    screenshot(page, "14-district-night-overview")
    row.get_by_role("link", name="Garcia Middle School").click()
    expect(page.get_by_role("heading", name=re.compile("Sync #1"))).to_be_visible()
    expect(page.locator("main")).to_contain_text("Succeeded")

    # The school added from the SIS is on the overview, and its Rostering page shows the mapping read-only.
    page.get_by_role("link", name="Rostering overview").click()
    page.get_by_role("link", name="Müller High School").first.click()  # the overview's school list
    expect(page.locator("#source-mapping")).to_contain_text("syncs from the district source Demo Unified — Aeries")
    expect(page.locator("#source-mapping")).to_contain_text("Connection works")
    expect(page.get_by_label("Consumer Secret Key")).to_have_count(0)


def test_switching_the_sis_on_the_sources_page_clears_the_other_vendors_values(page, district):
    """#17.5 on the Sources page: the Aeries values typed do not follow to Infinite Campus; its URL fills App Name."""
    sign_in(page, make_district_manager(district).email, PASSWORD)
    page.goto(f"/districts/{district.id}/sources")
    expect(page.get_by_role("heading", name="Add a source")).to_be_visible()
    page.get_by_label("Aeries URL").fill("https://district.aeries.net/aeries/")
    page.get_by_label("Consumer ID").fill("aeries-consumer")
    page.get_by_label("SIS", exact=True).select_option("infinite-campus")
    expect(page.get_by_label("App Name")).to_be_visible()
    for label in ("URL", "Client ID", "App Name"):
        expect(page.get_by_label(label, exact=True)).to_have_value("")
    page.get_by_label("URL", exact=True).fill("https://campus.example.org/campus/api/oneroster/v1p1/lakeside")
    page.get_by_label("URL", exact=True).press("Tab")
    expect(page.get_by_label("App Name")).to_have_value("lakeside")
    screenshot(page, "sources-switched-to-campus")
    page.get_by_label("SIS", exact=True).select_option("aeries")
    expect(page.get_by_label("Aeries URL")).to_have_value("")
