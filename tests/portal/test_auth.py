import pytest

from portal.auth.service import set_new_password
from tests.factories import PASSWORD, TEST_HASH_METHOD, make_owner, make_school
from tests.support import csrf_token

pytestmark = pytest.mark.smoke


def test_owner_signs_in_and_lands_on_their_school(client, auth):
    school = make_school(name="Lincoln High")
    owner = make_owner(school)
    response = auth.login(owner.email)
    assert response.status_code == 302
    page = client.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "People Manager" in page and "Lincoln High" in page


@pytest.mark.parametrize("email, password", [
    ("nobody@example.org", PASSWORD),       # unknown account
    ("KNOWN", "wrong-password"),            # known account, wrong password
])
def test_bad_login_says_the_same_thing_either_way(client, auth, email, password):
    owner = make_owner(make_school())
    response = auth.login(owner.email if email == "KNOWN" else email, password)
    assert response.status_code == 401
    body = response.get_data(as_text=True)
    assert "Email or password is incorrect." in body
    assert "no such" not in body.lower() and "not found" not in body.lower()


def test_login_email_is_case_insensitive(client, auth):
    owner = make_owner(make_school())
    assert auth.login(owner.email.upper()).status_code == 302


def test_login_form_errors_are_named(client):
    token = csrf_token(client)
    body = client.post("/login", data={"email": "", "password": "", "csrf_token": token}).get_data(as_text=True)
    assert "Enter your email address." in body and "Enter your password." in body


def test_post_without_csrf_token_is_refused(client, auth):
    owner = make_owner(make_school())
    response = client.post("/login", data={"email": owner.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "reload the page" in response.get_data(as_text=True).lower()
    assert client.get("/").status_code == 302  # still signed out


def test_logout_needs_post_and_signs_out(client, auth):
    owner = make_owner(make_school())
    auth.login(owner.email)
    assert client.get("/logout").status_code == 405
    assert auth.logout().status_code == 302
    assert client.get("/").headers["Location"].startswith("/login")


def test_password_change_ends_other_sessions(app, client, auth):
    from store.db import db
    owner = make_owner(make_school())
    auth.login(owner.email)
    assert client.get("/").status_code == 302
    owner.set_password("a-new-password-123")
    db.session.commit()
    assert client.get("/", follow_redirects=False).headers["Location"].startswith("/login")


@pytest.mark.parametrize("target", ["//evil.example.com/x", "/%0D%0AX:y", "/people%09x"])
def test_open_redirect_and_control_characters_are_refused(client, target):
    """A line break in next= made the redirect's header fail after the sign-in succeeded: a 500 page saying
    nothing was changed, with the session already signed in."""
    owner = make_owner(make_school())
    token = csrf_token(client)
    response = client.post(f"/login?next={target}",
                           data={"email": owner.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_pages_carry_a_strict_csp(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in response.get_data(as_text=True)


def test_passwords_are_stored_with_a_strong_hash(auth):
    """Test accounts carry a cheap hash (tests/factories.py) to keep the suite fast; the portal itself still
    stores scrypt at werkzeug's default cost for every password it sets."""
    owner = make_owner(make_school())
    assert owner.password_hash.startswith(TEST_HASH_METHOD + "$")
    set_new_password(owner, "a-much-longer-passphrase")
    method, cost, *_ = owner.password_hash.split("$")[0].split(":")
    assert method == "scrypt" and int(cost) >= 32768
    assert not owner.check_password(PASSWORD)
    assert auth.login(owner.email, "a-much-longer-passphrase").status_code == 302
