"""In a real browser: an owner moves a Campus connection from OneRoster 1.1 to 1.2, sees the expiry warning, and
Preview says everyone would be re-keyed (nobody archived or added)."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from connectors.expiry import today
from tests.factories import PASSWORD, make_district, make_owner, make_school
from tests.support import sandbox_fixture, screenshot, sign_in

pytestmark = pytest.mark.browser
campus = sandbox_fixture("infinite-campus", schools=1, students=20, seed=41, scope="module", oneroster_12=True)


def test_an_owner_moves_campus_to_1_2_and_preview_says_re_keyed(page, app, campus, sync_worker):
    school = make_school(make_district(name="Lakeside Unified"), name="Lakeside High", slug="lakeside-high")
    owner = make_owner(school)
    sign_in(page, owner.email, PASSWORD)
    page.get_by_role("link", name="Rostering", exact=True).click()
    page.wait_for_url("**/rostering")  # pick the SIS on the Rostering page, not on the page it is leaving
    info = campus.info
    page.get_by_label("SIS", exact=True).select_option("infinite-campus")
    expect(page.get_by_label("App Name")).to_be_visible()  # Campus' fields have swapped in
    page.get_by_label("URL", exact=True).fill(info["base_url"])
    page.get_by_label("Client ID").fill(info["client_id"])  # leaving the URL sends it: App Name fills itself in
    # Typing into App Name while that answer is on its way would land in the swapped-in field (htmx keeps the
    # focus and caret), so wait for it rather than type the name.
    expect(page.get_by_label("App Name")).to_have_value(info["app_name"])
    page.get_by_label("Client Secret").fill(info["client_secret"])
    page.get_by_label("School ID").fill(info["school_ids"][0])
    expect(page.get_by_label("OneRoster version")).to_have_value("1.1")
    soon = today() + timedelta(days=20)
    page.get_by_label("Credentials expire on (optional)").fill(soon.isoformat())
    page.get_by_role("button", name="Save connection").click()
    expect(page.get_by_text("Connection saved.")).to_be_visible()
    expect(page.locator(".credentials-warning")).to_contain_text(
        soon.strftime("expire on %b ") + f"{soon.day}, {soon.year} (in 20 days)")
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#run-progress")).to_contain_text("Sync finished", timeout=30_000)

    page.get_by_label("OneRoster version").select_option("1.2")
    page.get_by_role("button", name="Save connection").click()  # the secret is left blank: the saved one is kept
    page.get_by_role("button", name="Save anyway").click()  # the changed connection was not tested first
    expect(page.get_by_text("Connection saved.")).to_be_visible()
    expect(page.get_by_label("OneRoster version")).to_have_value("1.2")
    page.get_by_role("button", name="Preview").click()
    progress = page.locator("#run-progress")
    expect(progress).to_contain_text("Preview only: nothing was changed.", timeout=30_000)
    expect(progress.locator(".rekeyed")).to_contain_text("Would re-key")
    expect(progress).not_to_contain_text("Would archive")
    expect(progress).not_to_contain_text("Would create")
    screenshot(page, "or12-preview-re-keyed")
