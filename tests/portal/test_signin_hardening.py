"""Sign-in hardening: lockout, rate limits, password change and reset, as a user sees them."""
import re
import smtplib
import time

import pytest
from rq import SimpleWorker

from store.db import db

from portal.extensions import mail
from portal import create_app
from tests.factories import PASSWORD, make_district, make_district_manager, make_owner, make_school
from tests.support import BAD_VALUES, LOCKED, app_config, csrf_token, login, text

pytestmark = pytest.mark.smoke

SENT = "If an account exists for that address, we have emailed a link."
NEW_PASSWORD = "a-much-longer-passphrase"


@pytest.fixture(autouse=True)
def _fast_hashes(monkeypatch):
    """Cheap hashes for test accounts: these tests sign in dozens of times; the rules are the same."""
    from functools import partial

    from store import models
    monkeypatch.setattr(models, "generate_password_hash",
                        partial(models.generate_password_hash, method="pbkdf2:sha256:1000"))


def fail_times(client, email, times):
    return [login(client, email, "wrong-password") for _ in range(times)]


# -- lockout ---------------------------------------------------------------------------------

def test_five_failures_lock_the_account_even_for_the_right_password(client):
    owner = make_owner(make_school())
    responses = fail_times(client, owner.email, 5)
    assert [r.status_code for r in responses] == [401, 401, 401, 401, 429]
    assert LOCKED in text(responses[-1])
    locked = login(client, owner.email)
    assert locked.status_code == 429 and LOCKED in text(locked)
    assert client.get("/").status_code == 302  # still signed out


def test_lockout_looks_the_same_for_an_unknown_account(client):
    owner = make_owner(make_school())
    known = fail_times(client, owner.email, 6)[-1]
    unknown = fail_times(client, "nobody@example.org", 6)[-1]
    assert known.status_code == unknown.status_code == 429
    strip = lambda r: re.sub(r'value="[^"]*"|"X-CSRFToken": "[^"]*"', "", text(r))  # noqa: E731 - tokens, email
    assert strip(known) == strip(unknown)


def test_lockout_is_per_account_and_case_insensitive(client):
    school = make_school()
    locked_owner, other_owner = make_owner(school), make_owner(school)
    fail_times(client, locked_owner.email.upper(), 5)
    assert LOCKED in text(login(client, locked_owner.email))
    assert login(client, other_owner.email).status_code == 302


def test_success_clears_the_failure_count(client, auth):
    owner = make_owner(make_school())
    fail_times(client, owner.email, 4)
    assert login(client, owner.email).status_code == 302
    auth.logout()
    assert [r.status_code for r in fail_times(client, owner.email, 4)] == [401] * 4


def test_lock_ends_after_the_lockout_period(app, client):
    app.config["SIGNIN_LOCKOUT_SECONDS"] = 1
    owner = make_owner(make_school())
    fail_times(client, owner.email, 5)
    assert login(client, owner.email).status_code == 429
    time.sleep(1.1)
    assert login(client, owner.email).status_code == 302


# -- per-address limit -----------------------------------------------------------------------

def test_one_address_gets_a_friendly_429_after_20_attempts_a_minute(client):
    token = csrf_token(client)
    for _ in range(20):
        assert client.post("/login", data={"email": "", "csrf_token": token}).status_code == 422
    blocked = client.post("/login", data={"email": "", "csrf_token": token})
    assert blocked.status_code == 429
    assert "Too many attempts" in text(blocked) and "Wait a minute" in text(blocked)
    assert blocked.headers["Retry-After"] == "60"
    other = client.post("/login", data={"email": "", "csrf_token": token},
                        environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert other.status_code == 422


def attempts_until_429(client, token, forwarded_for, proxy="10.0.0.2") -> list[int]:
    return [client.post("/login", data={"email": "", "csrf_token": token},
                        headers={"X-Forwarded-For": address}, environ_base={"REMOTE_ADDR": proxy}).status_code
            for address in forwarded_for]


def test_a_forged_forwarded_for_does_not_dodge_the_limit_without_a_trusted_proxy(client):
    token = csrf_token(client)
    codes = attempts_until_429(client, token, [f"198.51.100.{n}" for n in range(21)])  # a new "address" each time
    assert codes[:20] == [422] * 20 and codes[20] == 429


def test_behind_one_trusted_proxy_the_forwarded_address_is_limited(app):
    proxied = create_app(app_config(PORTAL_PROXY_HOPS=1))
    client = proxied.test_client()
    token = csrf_token(client)
    # The proxy appends the address it saw; anything before it is the client's own (forgeable) claim.
    codes = attempts_until_429(client, token, [f"192.0.2.{n}, 203.0.113.7" for n in range(21)])
    assert codes[:20] == [422] * 20 and codes[20] == 429
    assert attempts_until_429(client, token, ["203.0.113.8"]) == [422]  # another client behind the same proxy
    with proxied.app_context():
        db.engine.dispose()


def test_reset_requests_count_towards_the_address_limit(client):
    token = csrf_token(client, "/reset")
    if time.time() % 60 > 40:  # the limit counts per clock minute: start the 21 requests inside one
        time.sleep(60.5 - time.time() % 60)
    codes = [client.post("/reset", data={"email": "x@example.org", "csrf_token": token}).status_code
             for _ in range(21)]
    assert codes[:20] == [302] * 20 and codes[20] == 429


# -- password change -------------------------------------------------------------------------

def change(client, current=PASSWORD, new=NEW_PASSWORD, confirm=None):
    token = csrf_token(client, "/account/password")
    return client.post("/account/password", data={"current_password": current, "new_password": new,
                                                  "confirm": new if confirm is None else confirm,
                                                  "csrf_token": token})


def test_password_change_needs_sign_in(client):
    response = client.get("/account/password")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_password_change_keeps_this_session_and_ends_the_others(app, client, auth):
    district = make_district()
    manager = make_district_manager(district)
    other_device = app.test_client()
    login(other_device, manager.email)
    auth.login(manager.email)
    page = client.get("/account/password")
    assert page.status_code == 200
    assert 'for="current_password"' in text(page) and 'for="confirm"' in text(page)
    response = change(client)
    assert response.status_code == 302
    assert "Your password is changed." in text(client.get(response.headers["Location"], follow_redirects=True))
    assert client.get("/account/password").status_code == 200           # this session stays
    assert other_device.get("/").headers["Location"].startswith("/login")  # the other one ended
    auth.logout()
    assert login(client, manager.email).status_code == 401
    assert login(client, manager.email, NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("current, new, confirm, message", [
    ("wrong-password", NEW_PASSWORD, None, "Your current password is incorrect."),
    (PASSWORD, "short-pass", None, "Use at least 12 characters"),
    (PASSWORD, NEW_PASSWORD, "something-else-entirely", "The two new passwords do not match."),
    (PASSWORD, "EMAIL", None, "Your password must not be your email address."),
    (PASSWORD, PASSWORD, None, "Choose a password different from your current one."),
    (PASSWORD, "aaaaaaaaaaaaaaaa", None, "more variety"),
    ("", "", "", "Enter your current password."),
])
def test_password_change_says_what_is_wrong_next_to_the_field(client, auth, current, new, confirm, message):
    owner = make_owner(make_school(), email="owner.long.address@example.org")
    auth.login(owner.email)
    new = owner.email.upper() if new == "EMAIL" else new
    response = change(client, current, new, new if confirm is None else confirm)
    assert response.status_code == 422
    assert re.search(r'<p class="error" id="\w+-error">[^<]*' + re.escape(message), text(response))
    db.session.refresh(owner)
    assert owner.check_password(PASSWORD)


def test_wrong_current_password_counts_towards_the_lockout(client, auth):
    owner = make_owner(make_school())
    auth.login(owner.email)
    codes = [change(client, current="wrong-password").status_code for _ in range(5)]
    assert codes == [422] * 4 + [429]
    assert LOCKED in text(change(client))


def test_password_change_without_csrf_is_refused(client, auth):
    owner = make_owner(make_school())
    auth.login(owner.email)
    response = client.post("/account/password", data={"current_password": PASSWORD,
                                                      "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 400
    db.session.refresh(owner)
    assert owner.check_password(PASSWORD)


# -- password reset --------------------------------------------------------------------------

def ask_reset(client, email, **kwargs):
    token = csrf_token(client, "/reset")
    return client.post("/reset", data={"email": email, "csrf_token": token}, follow_redirects=True, **kwargs)


def reset_link(message) -> str:
    return re.search(r"https?://\S+/reset/\S+", message.body).group(0)


def deliver_queued_mail(app) -> None:
    """Run the queued reset-email jobs as the worker would."""
    SimpleWorker([app.mail_queue], connection=app.redis).work(burst=True)


def emailed_reset_path(app, client, owner) -> str:
    """Ask for a reset as the owner would, and return the path of the link they get."""
    with mail.record_messages() as outbox:
        ask_reset(client, owner.email)
        deliver_queued_mail(app)
    return reset_link(outbox[0]).split(app.config["PORTAL_BASE_URL"])[1]


def test_reset_says_the_same_for_known_and_unknown_addresses(app, client):
    owner = make_owner(make_school())
    with mail.record_messages() as outbox:
        known, unknown = ask_reset(client, owner.email.upper()), ask_reset(client, "nobody@example.org")
        deliver_queued_mail(app)
    assert known.status_code == unknown.status_code == 200
    assert SENT in text(known) and SENT in text(unknown)
    assert [m.recipients for m in outbox] == [[owner.email]]
    assert reset_link(outbox[0]).startswith(app.config["PORTAL_BASE_URL"] + "/reset/")


def test_reset_requests_do_the_same_work_whether_or_not_the_account_exists(app, client, monkeypatch):
    owner = make_owner(make_school())
    looked_up = []
    monkeypatch.setattr("portal.auth.reset.sign_in_account", lambda email: looked_up.append(email))
    with mail.record_messages() as outbox:
        ask_reset(client, owner.email)
        ask_reset(client, "nobody@example.org")
        assert outbox == [] and looked_up == []  # no lookup and no SMTP inside the request: same time either way
    jobs = [app.mail_queue.fetch_job(job_id) for job_id in app.mail_queue.job_ids]
    assert [(j.func_name, j.args) for j in jobs] == [("portal.auth.reset.send_reset_email", (owner.email,)),
                                                     ("portal.auth.reset.send_reset_email",
                                                      ("nobody@example.org",))]


def test_reset_link_ignores_a_forged_host_header(app):
    from portal.auth.reset import reset_link as link_for
    owner = make_owner(make_school())
    with app.test_request_context("/reset", method="POST", headers={"Host": "evil.example.com"}):
        assert link_for(owner).startswith(app.config["PORTAL_BASE_URL"] + "/reset/")


def test_mail_failure_still_shows_the_same_message(app, client, monkeypatch):
    owner = make_owner(make_school())

    def broken(message):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    monkeypatch.setattr(mail, "send", broken)
    response = ask_reset(client, owner.email)
    assert response.status_code == 200 and SENT in text(response)
    deliver_queued_mail(app)
    assert app.mail_queue.failed_job_registry.count == 0  # logged, not a failed job


def test_reset_says_so_when_the_email_cannot_be_queued(app, client, monkeypatch):
    from redis.exceptions import ConnectionError as RedisDown

    def down(*args, **kwargs):
        raise RedisDown("Connection refused")
    monkeypatch.setattr(app.mail_queue, "enqueue", down)
    monkeypatch.setattr(app.redis, "pipeline", down)  # the rate limits are skipped too
    response = ask_reset(client, "someone@example.org")
    assert response.status_code == 503 and SENT not in text(response)
    assert "We could not send the email just now" in text(response) and "Try again in a few minutes" in text(response)


def test_reset_emails_are_limited_per_address(app, client):
    owner = make_owner(make_school())
    with mail.record_messages() as outbox:
        pages = [ask_reset(client, owner.email) for _ in range(5)]
        deliver_queued_mail(app)
    assert all(SENT in text(p) for p in pages)
    assert len(outbox) == 3


def test_reset_link_sets_a_new_password_once_and_unlocks(app, client, auth):
    owner = make_owner(make_school())
    other_device = app.test_client()
    login(other_device, owner.email)
    fail_times(client, owner.email, 5)
    path = emailed_reset_path(app, client, owner)
    page = client.get(path)
    assert page.status_code == 200 and owner.email in text(page)
    token = csrf_token(client, path)
    done = client.post(path, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token},
                       follow_redirects=True)
    assert "Your password is set." in text(done)
    assert other_device.get("/").headers["Location"].startswith("/login")
    assert login(client, owner.email, NEW_PASSWORD).status_code == 302  # the lock is gone too
    auth.logout()
    again = client.get(path)
    assert again.status_code == 400 and "expired or was already used" in text(again)


def test_expired_or_tampered_reset_links_are_refused(app, client):
    owner = make_owner(make_school())
    path = emailed_reset_path(app, client, owner)
    assert client.get(path[:-2] + ("AA" if not path.endswith("AA") else "BB")).status_code == 400
    app.config["PASSWORD_RESET_MAX_AGE"] = -1
    expired = client.get(path)
    assert expired.status_code == 400 and "Ask for a new one" in text(expired)


def test_reset_form_refuses_a_weak_password_next_to_the_field(app, client):
    owner = make_owner(make_school())
    path = emailed_reset_path(app, client, owner)
    token = csrf_token(client, path)
    response = client.post(path, data={"new_password": owner.email, "confirm": owner.email, "csrf_token": token})
    assert response.status_code == 422
    assert "Your password must not be your email address." in text(response)
    db.session.refresh(owner)
    assert owner.check_password(PASSWORD)


# -- bad input -------------------------------------------------------------------------------

def assert_handled(response, *codes):
    body = text(response)
    assert response.status_code in codes, body[:300]
    assert "<script>alert(1)</script>" not in body and "Traceback" not in body


@pytest.mark.parametrize("kind", BAD_VALUES)
def test_sign_in_and_reset_forms_survive_bad_input(client, kind):
    value = BAD_VALUES[kind]
    token = csrf_token(client)
    assert_handled(client.post("/login", data={"email": value, "password": value, "csrf_token": token}), 401, 422)
    assert_handled(client.post("/login", data={"email": "x@example.org", "password": value, "csrf_token": token}),
                   401, 422)
    assert_handled(client.post("/reset", data={"email": value, "csrf_token": token}), 302, 422)
    assert_handled(client.get("/reset/" + (value or "x")), 400, 404)  # a "/" in the value: no such page
    assert_handled(client.post("/reset/" + (value or "x"), data={"new_password": value, "confirm": value,
                                                                "csrf_token": token}), 400, 404)
    assert_handled(client.get("/login", query_string={"next": value}), 200)


@pytest.mark.parametrize("kind", BAD_VALUES)
def test_password_forms_survive_bad_input(app, client, auth, kind):
    value = BAD_VALUES[kind]
    owner = make_owner(make_school())
    auth.login(owner.email)
    assert_handled(change(client, current=value, new=value, confirm=value), 422)
    assert_handled(change(client, current=PASSWORD, new=value, confirm=value), 422, 302)
    path = emailed_reset_path(app, client, owner)
    token = csrf_token(client, path)
    assert_handled(client.post(path, data={"new_password": value, "confirm": value, "csrf_token": token}),
                   422, 302)


def test_invalid_input_messages_are_plain_language(client):
    token = csrf_token(client)
    body = text(client.post("/login", data={"email": "a" * 100_000, "password": "p" * 600, "csrf_token": token}))
    assert "An email address is at most 320 characters." in body
    assert "A password is at most 500 characters." in body
