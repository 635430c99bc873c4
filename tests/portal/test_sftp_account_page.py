"""The SFTP account on the Rostering page: created by an owner or district manager, the password shown once and
stored hashed, SSH keys checked with a clear message, the details and server fingerprint to give the SIS, audited."""
import asyncssh
import pytest

from portal.sftp.keys import ensure_host_key
from store.db import db
from store.models import AuditEvent, SftpAccount
from tests.factories import make_bundle, make_connection, make_csv_connection, make_district_manager, make_owner, make_school
from tests.support import csrf_token, text

HX = {"HX-Request": "true"}


@pytest.fixture
def school(app, tmp_path):
    app.config.update(SFTP_ROOT=str(tmp_path / "sftp"), SFTP_HOST_KEY=str(tmp_path / "sftp_host_key"),
                      SFTP_PUBLIC_HOST="sftp.portal.example.org", SFTP_PORT=2222)
    school = make_school(slug="lincoln")
    make_csv_connection(school)
    return school


@pytest.fixture
def owner(school, auth):
    person = make_owner(school)
    auth.login(person.email)
    return person


def _post(client, path, headers=HX, **data):
    return client.post(f"/schools/lincoln/rostering/sftp/{path}",
                       data={"csrf_token": csrf_token(client, "/schools/lincoln/rostering"), **data}, headers=headers)


def _account() -> SftpAccount:
    db.session.expire_all()
    return db.session.scalar(db.select(SftpAccount))


def _shown_password(response) -> str:
    page = response.get_data(as_text=True)
    return page.split('<code class="secret">', 1)[1].split("</code>", 1)[0]


def test_the_owner_creates_the_account_and_sees_the_password_once(client, school, owner):
    response = _post(client, "account")
    assert response.status_code == 201
    password = _shown_password(response)
    assert len(password) == 24 and password.isalnum() and "Copy this password now" in text(response)
    account = _account()
    assert account.username == "lincoln" and account.password_hash != password and account.check_password(password)
    assert "sftp.portal.example.org" in text(response) and "2222" in text(response)
    again = client.get("/schools/lincoln/rostering")
    assert again.status_code == 200 and password not in again.get_data(as_text=True)
    assert "lincoln" in text(again) and "A password is set." in text(again)
    events = db.session.scalars(db.select(AuditEvent)).all()
    assert [e.action for e in events] == ["sftp_account_created"] and password not in events[0].detail
    assert events[0].actor_id == owner.id


def test_without_javascript_the_password_is_on_the_returned_page(client, school, owner):
    response = _post(client, "account", headers={})
    assert response.status_code == 201 and "<html" in response.get_data(as_text=True).lower()
    assert _account().check_password(_shown_password(response))


def test_a_district_manager_creates_it_too(client, auth, school):
    auth.login(make_district_manager(school.district).email)
    assert _post(client, "account").status_code == 201


def test_a_school_on_the_api_method_is_told_to_choose_csv_first(client, app, auth, tmp_path):
    app.config.update(SFTP_ROOT=str(tmp_path / "sftp"))
    api_school = make_school(slug="lincoln")
    make_connection(api_school)
    auth.login(make_owner(api_school).email)
    response = _post(client, "account")
    assert response.status_code == 409 and "OneRoster CSV method" in text(response)
    assert _account() is None


def test_a_second_create_is_refused(client, school, owner):
    _post(client, "account")
    response = _post(client, "account")
    assert response.status_code == 409 and "already has an SFTP account" in text(response)


def test_a_new_password_replaces_the_old_one(client, school, owner):
    first = _shown_password(_post(client, "account"))
    response = _post(client, "password")
    assert response.status_code == 200 and "the old one no longer works" in text(response)
    second = _shown_password(response)
    account = _account()
    assert second != first and account.check_password(second) and not account.check_password(first)


def test_no_account_yet_says_create_it_first(client, school, owner):
    for path in ("password", "password/remove", "keys", "remove"):
        response = _post(client, path)
        assert response.status_code == 409 and "create it first" in text(response), path


@pytest.mark.parametrize("pasted, message", [
    ("ssh-ed25519 AAAAnotbase64", "Line 1 is not an SSH public key"),
    ("hello world", "Line 1 is not an SSH public key"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
     "That is a private key"),
    ("from=\"10.0.0.1\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHg6Bnkfzw/O689BSrKezL4ClYUtzm6g7KXagbUCy+ch x",
     "without options"),
    ("x" * 30_000, "more text than"),
])
def test_a_bad_key_gets_a_clear_message_and_nothing_is_saved(client, school, owner, pasted, message):
    _post(client, "account")
    response = _post(client, "keys", authorized_keys=pasted)
    assert response.status_code == 422 and message in text(response)
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in response.get_data(as_text=True)  # a private key is not echoed back
    assert _account().authorized_keys == ""
    assert [e.action for e in db.session.scalars(db.select(AuditEvent))] == ["sftp_account_created"]


def test_a_short_rsa_key_is_refused(client, school, owner):
    _post(client, "account")
    weak = asyncssh.generate_private_key("ssh-rsa", key_size=1024).export_public_key().decode()
    response = _post(client, "keys", authorized_keys=weak)
    assert response.status_code == 422 and "1024-bit RSA key" in text(response)


def test_keys_are_saved_listed_by_fingerprint_and_allow_a_keys_only_account(client, school, owner):
    _post(client, "account")
    key = asyncssh.generate_private_key("ssh-ed25519", comment="sis@district")
    other = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    pasted = f"# the SIS\n{key.export_public_key().decode()}\r\n\n{other.export_public_key().decode()}"
    response = _post(client, "keys", authorized_keys=pasted)
    assert response.status_code == 200 and "2 SSH keys saved." in text(response)
    for fingerprint in (key.get_fingerprint("sha256"), other.get_fingerprint("sha256")):
        assert fingerprint in text(response)
    assert "sis@district" in text(response)
    assert len(_account().authorized_keys.splitlines()) == 2
    response = _post(client, "password/remove")
    assert response.status_code == 200 and "SSH key only" in text(response)
    assert _account().password_hash is None
    actions = [e.action for e in db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["sftp_account_created", "sftp_keys_changed", "sftp_password_removed"]


def test_the_password_cannot_be_removed_without_a_key(client, school, owner):
    _post(client, "account")
    response = _post(client, "password/remove")
    assert response.status_code == 409 and "Add an SSH public key first" in text(response)
    assert _account().password_hash is not None


def test_the_server_fingerprint_is_on_the_page_once_the_server_has_a_key(client, app, school, owner):
    _post(client, "account")
    assert "Shown here once the SFTP server has started." in text(client.get("/schools/lincoln/rostering"))
    key = ensure_host_key(app.config["SFTP_HOST_KEY"], create=True)
    page = text(client.get("/schools/lincoln/rostering"))
    assert key.get_fingerprint("sha256") in page
    assert "sftp -P 2222 lincoln@sftp.portal.example.org" in page


def test_removing_the_account_is_audited(client, school, owner):
    _post(client, "account")
    response = _post(client, "remove")
    assert response.status_code == 200 and "Create SFTP account" in text(response)
    assert _account() is None
    assert db.session.scalar(db.select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)) == \
        "sftp_account_removed"


def test_another_schools_owner_gets_404_and_changes_nothing(client, auth, school):
    other = make_school(school.district, slug="roosevelt")
    auth.login(make_owner(other).email)
    assert _post(client, "account").status_code == 404
    assert _account() is None


def test_a_cut_off_transfer_is_on_the_page_with_what_to_do(client, school, owner):
    from portal.sftp.receipt import record_cut_off
    record_cut_off(school.id, "roster.zip", 1_258_291, set_aside=0)
    page = text(client.get("/schools/lincoln/rostering"))
    assert "roster.zip" in page and "Refused" in page
    assert "The upload was cut off after 1.2 MB, before the file was complete" in page
    assert "Send the whole bundle again." in page


@pytest.mark.parametrize("listen, public, shown", [
    ("127.0.0.1", "", "127.0.0.1"),
    ("0.0.0.0", "", "portal.example.org"),  # a wildcard is not an address to type: the portal's host name
    ("0.0.0.0", "sftp.example.org", "sftp.example.org"),
])
def test_the_host_to_give_the_sis(app, listen, public, shown):
    from portal.rostering.sftp_view import public_host
    config = {**app.config, "SFTP_HOST": listen, "SFTP_PUBLIC_HOST": public,
              "PORTAL_BASE_URL": "https://portal.example.org/"}
    assert public_host(config) == shown


def test_an_older_cut_off_stays_readable_in_the_received_list(client, school, owner):
    from portal.sftp.receipt import record_cut_off
    record_cut_off(school.id, "monday.zip", 2048)
    make_bundle(school, via="sftp", filename="tuesday.zip", summary="Valid: OneRoster 1.1, full roster (bulk).")
    page = client.get("/schools/lincoln/rostering").get_data(as_text=True)
    listed = page[page.index('id="bundles"'):]
    assert "monday.zip" in listed and "tuesday.zip" in listed
    assert "The upload was cut off after 2.0 KB" in listed
