"""The OneRoster CSV method in a real browser: choose it, upload a zip, read the report, Preview, Sync now."""
import pytest
from playwright.sync_api import expect

from jobs.connection import get_connection
from store.db import db
from store.models import Person
from tests.connectors.csv_helpers import bundle_files, user_row, users, write_zip
from tests.factories import PASSWORD, make_district, make_owner, make_school
from tests.support import screenshot, sign_in

pytestmark = pytest.mark.browser


def rostered(school):
    db.session.expire_all()
    return sorted(p.given_name for p in db.session.scalars(db.select(Person).where(
        Person.school_id == school.id, Person.source_id.is_not(None))))


def test_owner_uploads_a_bundle_previews_and_syncs_it(page, app, sync_worker, live_bundles, tmp_path):
    school = make_school(make_district(name="Bay Unified"), name="Bay High", slug="bay-high")
    owner = make_owner(school)
    sign_in(page, owner.email, PASSWORD)
    page.goto(f"/schools/{school.slug}/rostering")

    page.get_by_label("Method").select_option("oneroster_csv")
    expect(page.get_by_role("button", name="Save method")).to_be_visible()  # the CSV form has swapped in
    page.get_by_label("School ID").fill("s1")
    page.get_by_role("button", name="Save method").click()
    expect(page.get_by_text("Method saved: OneRoster CSV.")).to_be_visible()
    db.session.expire_all()
    assert (get_connection(school).method, get_connection(school).sis_school_id) == ("oneroster_csv", "s1")

    # A bundle with a repeated sourcedId first: the report says where, and nothing can be synced.
    bad = write_zip(tmp_path / "bad.zip", bundle_files(users_csv=users(user_row("u1"), user_row("u1"))))
    page.get_by_label("Upload a bundle").set_input_files(bad)
    page.get_by_role("button", name="Upload and check").click()
    latest = page.locator("div.bundle")  # the newest bundle with its report (the list below repeats the summary)
    expect(latest).to_contain_text("to fix before this bundle can be synced; nothing was changed")
    report = page.locator(".bundle-report")
    expect(report).to_contain_text("sourcedId u1 is used by an earlier row too.")
    expect(page.get_by_role("button", name="Sync this bundle")).to_have_count(0)
    expect(page.locator("#bundles")).to_contain_text("Has errors")  # the list follows once the check is done
    screenshot(page, "csv-upload-invalid")

    good = write_zip(tmp_path / "export.zip", bundle_files(users_csv=users(
        user_row("u1", given="Ada"), user_row("u2", given="Ben"), user_row("t1", role="teacher", given="Tess"))))
    page.get_by_label("Upload a bundle").set_input_files(good)
    page.get_by_role("button", name="Upload and check").click()
    expect(latest).to_contain_text("Valid: OneRoster 1.1, full roster (bulk).")
    screenshot(page, "csv-upload-valid")

    page.get_by_role("button", name="Preview this bundle").click()
    expect(page.get_by_text("Preview only: nothing was changed.")).to_be_visible()
    assert rostered(school) == []
    screenshot(page, "csv-preview")

    page.locator("#sync-now").get_by_role("button", name="Sync now").click()
    expect(page.locator("#run-progress .outcome")).to_contain_text("Sync succeeded")
    assert rostered(school) == ["Ada", "Ben", "Tess"]
    page.reload()
    expect(page.locator("#bundles")).to_contain_text("Synced")
    expect(page.locator("#bundles")).to_contain_text("Has errors")
    screenshot(page, "csv-synced")
