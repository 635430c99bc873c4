"""A District Manager sets up a district CSV source in a real browser: choose the CSV method (the form swaps in
place), upload the district's bundle, map the schools its orgs.csv lists, and the next bundle syncs each school."""
import time

import pytest
from playwright.sync_api import expect

from store.db import db
from store.models import Person
from tests.connectors.csv_helpers import MANIFEST_11, ORGS_HEADER, user_row, users, write_zip
from tests.factories import PASSWORD, make_district, make_district_manager, make_school
from tests.support import screenshot, sign_in

pytestmark = pytest.mark.browser
ORGS = ORGS_HEADER + "\nd1,,,Bay,district,,\nn1,,,North High,school,1,d1\ns1,,,South Middle,school,2,d1\n"


def rostered(school):
    db.session.expire_all()
    return sorted(p.source_id for p in db.session.scalars(db.select(Person).where(
        Person.school_id == school.id, Person.source_id.is_not(None))))


def test_a_district_manager_sets_up_a_csv_source_and_its_bundle_syncs_each_school(page, app, sync_worker,
                                                                                  live_bundles, tmp_path):
    district = make_district(name="Bay Unified")
    north, south = make_school(district, name="North High"), make_school(district, name="South Middle")
    sign_in(page, make_district_manager(district).email, PASSWORD)
    page.goto(f"/districts/{district.id}/sources")
    page.get_by_label("Method").select_option("oneroster_csv")
    expect(page.get_by_label("When a valid bundle arrives")).to_be_visible()  # the CSV form swapped in
    expect(page.get_by_label("SIS", exact=True)).to_have_count(0)
    page.get_by_label("Source name").fill("Bay CSV")
    page.get_by_role("button", name="Save source").click()
    expect(page.get_by_text('Source "Bay CSV" saved.')).to_be_visible()
    expect(page.get_by_role("button", name="Create SFTP account")).to_be_visible()

    bundle = write_zip(tmp_path / "bay.zip", {"manifest.csv": MANIFEST_11, "orgs.csv": ORGS, "users.csv": users(
        user_row("n1-a", org="n1"), user_row("n1-b", org="n1"), user_row("s1-a", org="s1"))})
    page.get_by_label("Upload a bundle").set_input_files(bundle)
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("#bundles")).to_contain_text("Valid: OneRoster 1.1")  # the list polls until checked
    page.reload()
    for sis_id in ("n1", "s1"):  # orgs.csv's schools, suggested by name
        page.locator(f'#mapping tr[data-sis-id="{sis_id}"]').get_by_role("button", name="Confirm mapping").click()
        expect(page.locator(f'#mapping tr[data-sis-id="{sis_id}"] .badge')).to_have_text("Mapped")
    screenshot(page, "csv-source-mapped")

    page.get_by_role("button", name="Sync the newest bundle now").click()
    expect(page.get_by_text("started for 2 schools")).to_be_visible()
    deadline = time.monotonic() + 30
    while (rostered(north), rostered(south)) != (["n1-a", "n1-b"], ["s1-a"]) and time.monotonic() < deadline:
        time.sleep(0.2)  # the worker thread runs each school's sync
    assert (rostered(north), rostered(south)) == (["n1-a", "n1-b"], ["s1-a"])
    page.reload()
    expect(page.locator("#bundles")).to_contain_text("Synced")
    screenshot(page, "csv-source-synced")
