"""Lockout that cannot be used against the owner (issue 12, finding 8): failures lock the (account, address)
pair, and only slow the account down elsewhere; unknown accounts are treated exactly alike."""
import time

import pytest

from store.db import db
from tests.factories import PASSWORD, make_owner, make_school
from tests.support import LOCKED, app_config, csrf_token, login, page_token, text

pytestmark = pytest.mark.smoke

ATTACKER, OWNER_HOME = "198.51.100.7", "203.0.113.5"


@pytest.fixture
def delays(monkeypatch):
    """The slow-down each sign-in got, in seconds (wall times on a shared machine are too noisy to compare)."""
    from portal.auth import throttle
    seen, slow_down = [], throttle.slow_down
    monkeypatch.setattr(throttle, "slow_down", lambda email: seen.append(slow_down(email)) or seen[-1])
    return seen


def fail_from(client, email, address, times=1):
    return [login(client, email, "wrong-password", REMOTE_ADDR=address) for _ in range(times)]


def test_failures_from_one_address_do_not_lock_the_owner_out_elsewhere(app, client):
    owner = make_owner(make_school())
    codes = [r.status_code for r in fail_from(client, owner.email, ATTACKER, 6)]
    assert codes == [401] * 4 + [429] * 2
    at_home = app.test_client()
    response = login(at_home, owner.email, REMOTE_ADDR=OWNER_HOME)
    assert response.status_code == 302  # the owner signs in from their own network
    still = login(client, owner.email, REMOTE_ADDR=ATTACKER)
    assert still.status_code == 429 and LOCKED in text(still)  # the attacker's address stays locked out


def test_failures_spread_over_many_addresses_slow_the_account_but_never_lock_it(app, client, delays):
    app.config.update(SIGNIN_SLOWDOWN_AFTER=3, SIGNIN_SLOWDOWN_STEP_SECONDS=0.2, SIGNIN_SLOWDOWN_MAX_SECONDS=0.4)
    owner = make_owner(make_school())
    for n in range(8):  # one failure from each of eight addresses: no pair reaches its limit
        assert fail_from(client, owner.email, f"192.0.2.{n + 10}")[0].status_code == 401
    at_home = app.test_client()
    token = csrf_token(at_home)
    started = time.monotonic()
    response = at_home.post("/login", data={"email": owner.email, "password": PASSWORD, "csrf_token": token},
                            environ_base={"REMOTE_ADDR": OWNER_HOME})
    waited = time.monotonic() - started
    assert response.status_code == 302  # slowed, not locked
    assert waited >= 0.4 and delays[-1] == 0.4  # capped at the most it may wait


def test_an_unknown_account_is_slowed_and_locked_exactly_like_a_known_one(app, client, delays):
    app.config.update(SIGNIN_SLOWDOWN_AFTER=2, SIGNIN_SLOWDOWN_STEP_SECONDS=0.3, SIGNIN_SLOWDOWN_MAX_SECONDS=0.3)
    owner = make_owner(make_school())
    owner.set_password(PASSWORD)  # the portal's own scrypt, as the unknown account's dummy check costs
    db.session.commit()
    timings = {}
    for email in (owner.email, "nobody@example.org"):
        for n in range(3):
            fail_from(client, email, f"192.0.2.{n + 40}")
        started = time.monotonic()
        response = fail_from(client, email, "192.0.2.99")[0]
        timings[email] = (response.status_code, time.monotonic() - started, list(delays))
        delays.clear()
    (known_code, known_time, known_delays), (unknown_code, unknown_time, unknown_delays) = timings.values()
    assert known_code == unknown_code == 401
    assert known_time >= 0.3 and unknown_time >= 0.3
    assert known_delays == unknown_delays == [0, 0, 0, 0.3]  # the same waits, attempt by attempt
    pair = [r.status_code for r in fail_from(app.test_client(), "nobody@example.org", ATTACKER, 5)]
    assert pair == [401] * 4 + [429]


def test_a_successful_sign_in_clears_that_address_only(app, client):
    owner = make_owner(make_school())
    fail_from(client, owner.email, ATTACKER, 5)
    home = app.test_client()
    fail_from(home, owner.email, OWNER_HOME, 3)
    assert login(home, owner.email, REMOTE_ADDR=OWNER_HOME).status_code == 302
    assert login(client, owner.email, REMOTE_ADDR=ATTACKER).status_code == 429


def test_over_http_behind_a_trusted_proxy_the_attackers_address_is_locked_and_the_owners_is_not(app):
    """The attack as it was seen: wrong passwords over HTTP, through the proxy that reports each client."""
    import threading

    import requests
    from werkzeug.serving import make_server

    from portal import create_app
    from store.db import db

    proxied = create_app(app_config(PORTAL_PROXY_HOPS=1))
    with proxied.app_context():
        owner_email = make_owner(make_school()).email
    server = make_server("127.0.0.1", 0, proxied, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        def attempt(client_address, password):
            browser = requests.Session()
            browser.headers["X-Forwarded-For"] = client_address
            token = page_token(browser, base + "/login")
            return browser.post(base + "/login", data={"email": owner_email, "password": password,
                                                       "csrf_token": token}, allow_redirects=False).status_code
        assert [attempt(ATTACKER, "wrong-password") for _ in range(5)] == [401] * 4 + [429]
        assert attempt(ATTACKER, PASSWORD) == 429
        assert attempt(OWNER_HOME, PASSWORD) == 302
    finally:
        server.shutdown()
        server.server_close()
        with proxied.app_context():
            db.engine.dispose()
