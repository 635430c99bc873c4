"""Sessions (issue 12, finding 3): sign-out ends the session everywhere it was copied to, sign-in starts a new
one, remember-me lasts at most 30 days, and "Sign out everywhere" ends every session of the account."""
import re
import threading
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
import requests
from werkzeug.serving import make_server

from store.db import db
from store.models import AuditEvent
from tests.factories import PASSWORD, make_district, make_district_manager, make_owner, make_school
from tests.support import csrf_token, page_token

pytestmark = pytest.mark.smoke



@pytest.fixture
def portal_url(app):
    """The portal on a loopback port (ephemeral), so cookies travel as a browser sends them."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def sign_in(base: str, email: str, remember: bool = False) -> requests.Session:
    browser = requests.Session()
    data = {"email": email, "password": PASSWORD, "csrf_token": page_token(browser, base + "/login")}
    if remember:
        data["remember"] = "y"
    response = browser.post(base + "/login", data=data, allow_redirects=False)
    assert response.status_code == 302, response.text[:300]
    return browser


def sign_out(base: str, browser: requests.Session) -> None:
    response = browser.post(base + "/logout", data={"csrf_token": page_token(browser, base + "/")},
                            allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")


def replay(base: str, path: str, cookies: dict) -> requests.Response:
    """A fresh browser that only carries the copied cookies."""
    thief = requests.Session()
    for name, value in cookies.items():
        thief.cookies.set(name, value, domain="127.0.0.1", path="/")
    return thief.get(base + path, allow_redirects=False)


def test_a_session_cookie_copied_before_sign_out_does_not_open_people_afterwards(portal_url):
    school = make_school()
    owner = make_owner(school)
    browser = sign_in(portal_url, owner.email)
    people = f"/schools/{school.slug}/people"
    copied = {"session": browser.cookies["session"]}
    assert replay(portal_url, people, copied).status_code == 200  # the copy works while signed in...
    sign_out(portal_url, browser)
    after = replay(portal_url, people, copied)
    assert after.status_code == 302 and "/login" in after.headers["Location"]  # ...and not after sign-out


def test_a_remember_token_alone_does_not_sign_in_after_sign_out(portal_url):
    school = make_school()
    owner = make_owner(school)
    browser = sign_in(portal_url, owner.email, remember=True)
    people = f"/schools/{school.slug}/people"
    copied = {"remember_token": browser.cookies["remember_token"]}
    assert replay(portal_url, people, copied).status_code == 200  # the cookie signs in on its own...
    sign_out(portal_url, browser)
    after = replay(portal_url, people, copied)
    assert after.status_code == 302 and "/login" in after.headers["Location"]  # ...until sign-out
    assert "remember_token" not in browser.cookies  # and sign-out told the browser to drop it


def test_sign_out_ends_only_that_session(portal_url):
    school = make_school()
    owner = make_owner(school)
    laptop, phone = sign_in(portal_url, owner.email), sign_in(portal_url, owner.email)
    sign_out(portal_url, laptop)
    assert phone.get(f"{portal_url}/schools/{school.slug}/people", allow_redirects=False).status_code == 200


def test_sign_in_starts_a_new_session_so_an_earlier_csrf_token_stops_working(client, auth):
    owner = make_owner(make_school())
    planted = csrf_token(client)  # what a session-fixation attacker would know from before sign-in
    assert auth.login(owner.email).status_code == 302
    stale = client.post("/logout", data={"csrf_token": planted})
    assert stale.status_code == 400  # the token from before sign-in is refused...
    assert client.get("/account/password").status_code == 200  # still signed in
    assert auth.logout().status_code == 302  # ...while the new session's own token works


def test_a_session_cookie_from_before_sign_in_stays_anonymous(client, auth):
    owner = make_owner(make_school())
    csrf_token(client)
    before = client.get_cookie("session").value
    auth.login(owner.email)
    after = client.get_cookie("session").value
    assert before != after
    thief = client.application.test_client()
    thief.set_cookie("session", before)
    assert thief.get("/").headers["Location"].startswith("/login")


def test_remember_me_lasts_at_most_30_days(client, auth):
    owner = make_owner(make_school())
    token = csrf_token(client)
    response = client.post("/login", data={"email": owner.email, "password": PASSWORD, "remember": "y",
                                           "csrf_token": token})
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token="))
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    lifetime = expires - datetime.now(timezone.utc)
    assert timedelta(days=29) < lifetime <= timedelta(days=30, minutes=1)


def test_a_remembered_session_past_its_30_days_is_refused_by_the_server(app, client, auth):
    from store.models import SignInSession
    school = make_school()
    owner = make_owner(school)
    token = csrf_token(client)
    client.post("/login", data={"email": owner.email, "password": PASSWORD, "remember": "y", "csrf_token": token})
    remember = client.get_cookie("remember_token").value
    record = db.session.scalar(db.select(SignInSession).filter_by(person_id=owner.id))
    assert record.expires_at - record.created_at <= timedelta(days=30)
    record.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)  # as if 30 days went by
    db.session.commit()
    later = app.test_client()
    later.set_cookie("remember_token", remember)
    assert later.get(f"/schools/{school.slug}/people").headers["Location"].startswith("/login")


def sign_out_everywhere(base: str, browser: requests.Session) -> requests.Response:
    token = page_token(browser, base + "/account/password")
    return browser.post(base + "/account/sign-out-everywhere", data={"csrf_token": token}, allow_redirects=False)


def test_sign_out_everywhere_ends_every_session_of_that_account_and_is_audited(portal_url):
    school = make_school()
    owner, colleague = make_owner(school), make_owner(school)
    laptop, phone = sign_in(portal_url, owner.email), sign_in(portal_url, owner.email, remember=True)
    remembered = {"remember_token": phone.cookies["remember_token"]}
    other = sign_in(portal_url, colleague.email)
    page = laptop.get(portal_url + "/account/password").text
    assert "Sign out everywhere" in page
    response = sign_out_everywhere(portal_url, laptop)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    notice = laptop.get(portal_url + "/login").text
    assert "signed out on every device" in notice
    people = f"{portal_url}/schools/{school.slug}/people"
    for device in (laptop, phone):
        assert "/login" in device.get(people, allow_redirects=False).headers["Location"]
    assert "/login" in replay(portal_url, f"/schools/{school.slug}/people", remembered).headers["Location"]
    assert other.get(people, allow_redirects=False).status_code == 200  # another account keeps its session
    event = db.session.scalar(db.select(AuditEvent).filter_by(action="signed_out_everywhere"))
    assert event.school_id == school.id and event.actor_id == owner.id
    assert "2 signed-in sessions" in event.detail
    assert sign_in(portal_url, owner.email)  # and the owner can sign in again


def test_sign_out_everywhere_for_a_district_manager_is_audited_in_each_school(portal_url):
    district = make_district()
    first, second = make_school(district), make_school(district)
    manager = make_district_manager(district)
    browser = sign_in(portal_url, manager.email)
    assert sign_out_everywhere(portal_url, browser).status_code == 302
    events = db.session.scalars(db.select(AuditEvent).filter_by(action="signed_out_everywhere")).all()
    assert sorted(e.school_id for e in events) == sorted([first.id, second.id])


def test_sign_out_everywhere_needs_sign_in_and_csrf(client, auth):
    owner = make_owner(make_school())
    assert client.post("/account/sign-out-everywhere").status_code in (302, 400)
    auth.login(owner.email)
    assert client.post("/account/sign-out-everywhere").status_code == 400  # no CSRF token: nothing ends
    assert client.get("/account/password").status_code == 200


def test_a_page_whose_session_ended_elsewhere_goes_to_sign_in_instead_of_swapping_it_into_a_panel(portal_url):
    """htmx follows a redirect inside its request: the whole sign-in page (top bar and all) was swapped into the
    Sync panel when Preview was pressed after "Sign out everywhere" on another device. Now the browser goes to the
    sign-in page, and back to the page it was on after signing in."""
    school = make_school()
    owner = make_owner(school)
    laptop, phone = sign_in(portal_url, owner.email), sign_in(portal_url, owner.email)
    page = f"{portal_url}/schools/{school.slug}/rostering"
    token = page_token(laptop, page)
    sign_out_everywhere(portal_url, phone)
    htmx = {"HX-Request": "true", "HX-Current-URL": page, "X-CSRFToken": token}
    for response in (laptop.get(f"{page}/runs", headers=htmx, allow_redirects=False),
                     laptop.post(f"{page}/runs", data={"trigger": "preview"}, headers=htmx, allow_redirects=False)):
        assert response.status_code == 401 and "Sign in" not in response.text
        target = response.headers["HX-Redirect"]
        assert target.startswith("/login?next=")
        signed_in = laptop.post(portal_url + target, allow_redirects=False, data={
            "email": owner.email, "password": PASSWORD, "csrf_token": page_token(laptop, portal_url + target)})
        assert signed_in.headers["Location"] == f"/schools/{school.slug}/rostering"  # the page, not the fragment
        sign_out_everywhere(portal_url, sign_in(portal_url, owner.email))
    plain = laptop.get(page, allow_redirects=False)  # without htmx: the redirect as before
    assert plain.status_code == 302 and "/login?next=" in plain.headers["Location"]


def test_a_button_on_a_page_from_before_signing_in_again_reloads_the_page_and_says_to_try_again(portal_url):
    """Signing out and in again in another tab gives the session a new CSRF token: Preview, Sync now or Save on the
    older tab answered 400, which htmx does not swap, so the button did nothing at all. Now the page reloads (with
    the new token) and says what happened; nothing was started."""
    school = make_school()
    owner = make_owner(school)
    browser = sign_in(portal_url, owner.email)
    page = f"{portal_url}/schools/{school.slug}/rostering"
    stale = page_token(browser, page)
    sign_out(portal_url, browser)  # then in again in the same browser (another tab): a new session
    data = {"email": owner.email, "password": PASSWORD, "csrf_token": page_token(browser, portal_url + "/login")}
    assert browser.post(portal_url + "/login", data=data, allow_redirects=False).status_code == 302
    pressed = browser.post(f"{page}/runs", data={"trigger": "preview"}, allow_redirects=False,
                           headers={"HX-Request": "true", "HX-Current-URL": page, "X-CSRFToken": stale})
    assert pressed.status_code == 400 and pressed.headers.get("HX-Refresh") == "true"
    reloaded = browser.get(page).text
    assert "nothing was done" in reloaded and "try again" in reloaded
    from store.models import SyncRun
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0
    plain = browser.post(f"{page}/runs", data={"trigger": "preview", "csrf_token": stale}, allow_redirects=False)
    assert plain.status_code == 400 and "Reload the page" in plain.text  # without htmx: the error page as before
