"""The SFTP drop in a real browser: an owner creates the account, copies the password shown once, checks the
server's fingerprint, pastes a key; the SIS pushes a bundle with that password and it appears as received."""
import asyncssh
import pytest
from playwright.sync_api import expect

from tests.connectors.csv_helpers import bundle_files, zip_bytes
from tests.factories import PASSWORD, make_csv_connection, make_district, make_owner, make_school
from tests.sftp_support import put_files, received, run, running_drop
from tests.support import screenshot, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def live_drop(live_app, tmp_path):
    """The SFTP server beside the live portal, both using the test's folders and host key."""
    names = ("SFTP_ROOT", "SFTP_HOST_KEY", "SFTP_PORT", "BUNDLE_DIR", "SFTP_PUBLIC_HOST")
    before = {name: live_app.config[name] for name in names}
    live_app.config.update(BUNDLE_DIR=str(tmp_path / "bundles"), SFTP_PUBLIC_HOST="127.0.0.1")
    try:
        with running_drop(live_app, tmp_path) as drop:
            live_app.config["SFTP_PORT"] = drop.port
            yield drop
    finally:
        live_app.config.update(before)


def test_owner_sets_up_the_drop_and_a_pushed_bundle_is_listed(page, app, live_app, live_drop):
    school = make_school(make_district(name="Drop Unified"), name="Drop High", slug="drop-high")
    make_csv_connection(school, csv_sync_on_receipt="nightly")
    sign_in(page, make_owner(school).email, PASSWORD)
    page.goto(f"/schools/{school.slug}/rostering")

    page.get_by_role("button", name="Create SFTP account").click()
    expect(page.get_by_text("Copy this password now; it is not shown again.")).to_be_visible()
    password = page.locator("code.secret").inner_text()
    details = page.locator(".sftp-details")
    expect(details).to_contain_text("drop-high")
    expect(details).to_contain_text(str(live_drop.port))
    expect(details).to_contain_text(live_drop.host_key.get_fingerprint("sha256"))
    screenshot(page, "sftp-account-created")

    key = asyncssh.generate_private_key("ssh-ed25519", comment="sis@drop")
    page.get_by_label("Public keys, one per line").fill("ssh-rsa not-a-key")
    page.get_by_role("button", name="Save keys").click()
    expect(page.get_by_text("Line 1 is not an SSH public key")).to_be_visible()
    page.get_by_label("Public keys, one per line").fill(key.export_public_key().decode())
    page.get_by_role("button", name="Save keys").click()
    expect(page.get_by_text("1 SSH key saved.")).to_be_visible()
    expect(page.locator(".sftp-keys")).to_contain_text(key.get_fingerprint("sha256"))
    expect(page.locator("code.secret")).to_have_count(0)  # the password is gone from the page for good

    run(put_files(live_drop, "drop-high", {"roster.zip": zip_bytes(bundle_files())}, password=password))
    (bundle,) = received(live_drop, school)
    assert bundle.status == "valid", bundle.summary
    page.reload()
    expect(page.locator("#bundles")).to_contain_text("roster.zip")
    expect(page.locator("#bundles")).to_contain_text("SFTP")
    screenshot(page, "sftp-bundle-received")
