"""How long a token is kept when the SIS's expires_in is missing, zero, negative or tiny (canned HTTP)."""
import pytest
import responses

from connectors.client import OneRosterClient

from connector_helpers import DATA, TOKEN, make_settings

USERS = f"{DATA}/users"


def _token(rsps, value, expires_in):
    body = {"access_token": value, "token_type": "Bearer"}
    if expires_in is not ...:
        body["expires_in"] = expires_in
    rsps.add(responses.POST, TOKEN, json=body)


def _pages(rsps, count):
    """`count` pages of one user each, chained by Link next, then an empty page."""
    for n in range(count + 1):
        records = [{"sourcedId": f"u{n}"}] if n < count else []
        headers = {"Link": f'<{USERS}?page={n + 1}>; rel="next"'} if n < count else {}
        rsps.add(responses.GET, USERS if n == 0 else f"{USERS}?page={n}", json={"users": records}, headers=headers)


def _posts(rsps):
    return sum(1 for call in rsps.calls if call.request.method == "POST")


@pytest.mark.parametrize("expires_in", [0, -5, "0", None, ..., "soon", True],
                         ids=["zero", "negative", "zero-text", "null", "missing", "unreadable", "boolean"])
def test_an_unknown_lifetime_keeps_one_token_for_the_whole_read(expires_in):
    """Read as 0 such a lifetime fetched a token before every page: 5 pages cost 5 token requests."""
    now = [0.0]
    with responses.RequestsMock() as rsps:
        _token(rsps, "only", expires_in)
        _pages(rsps, 5)
        with OneRosterClient(make_settings(), clock=lambda: now[0]) as client:
            for _ in client.iter_pages("users"):
                now[0] += 3600.0  # hours apart: an unknown lifetime is never guessed as over
        assert _posts(rsps) == 1


def test_a_token_of_unknown_lifetime_is_replaced_once_when_the_sis_refuses_it():
    with responses.RequestsMock() as rsps:
        _token(rsps, "old", 0)
        _token(rsps, "new", 0)
        rsps.add(responses.GET, USERS, json={"users": [{"sourcedId": "u0"}]},
                 headers={"Link": f'<{USERS}?page=1>; rel="next"'})
        rsps.add(responses.GET, f"{USERS}?page=1", status=401)
        rsps.add(responses.GET, f"{USERS}?page=1", json={"users": []})
        with OneRosterClient(make_settings()) as client:
            ids = [r["sourcedId"] for page in client.iter_pages("users") for r in page]
        gets = [c.request.headers["Authorization"] for c in rsps.calls if c.request.method == "GET"]
        assert ids == ["u0"] and _posts(rsps) == 2
        assert gets == ["Bearer old", "Bearer old", "Bearer new"]


def test_a_tiny_lifetime_is_kept_at_least_thirty_seconds():
    """expires_in 1 fetched a token before every page; now it lasts 30 s (less the tenth kept as margin)."""
    now = [0.0]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _token(rsps, "first", 1)
        _token(rsps, "second", 1)
        _pages(rsps, 4)
        with OneRosterClient(make_settings(), clock=lambda: now[0]) as client:
            pages = client.iter_pages("users")
            next(pages)  # t=0: token fetched
            now[0] = 20.0
            next(pages)  # still inside 30 s: reused
            now[0] = 26.0
            next(pages)  # still before the 3 s margin
            now[0] = 28.0
            next(pages)  # inside the margin: a fresh token first
        gets = [c.request.headers["Authorization"] for c in rsps.calls if c.request.method == "GET"]
        assert gets == ["Bearer first"] * 3 + ["Bearer second"] and _posts(rsps) == 2
