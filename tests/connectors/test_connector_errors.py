"""Retries, token handling and typed errors of the OneRoster client (canned HTTP)."""
import dataclasses
import json
from types import SimpleNamespace

import pytest
import requests
import responses
from urllib.parse import parse_qs, urlencode, urlsplit

from connectors.client import OneRosterClient
from connectors.errors import (AuthenticationFailed, BadResponse, ConnectorError, NotFound, PermissionDenied,
                               ProviderUnavailable)

from tests.support import running_sandbox

from connector_helpers import DATA, TOKEN, make_settings, user

USERS = f"{DATA}/users"
PAGE = {"users": [user("u1")]}


def token(rsps, value="tok", expires_in=3600):
    rsps.add(responses.POST, TOKEN, json={"access_token": value, "token_type": "Bearer", "expires_in": expires_in})


def read(client, path="users"):
    return [r["sourcedId"] for page in client.iter_pages(path) for r in page]


def test_429_retry_after_is_honoured_then_succeeds(sleeps):
    with responses.RequestsMock() as rsps:
        token(rsps)
        rsps.add(responses.GET, USERS, status=429, headers={"Retry-After": "7"})
        rsps.add(responses.GET, USERS, json=PAGE)
        rsps.add(responses.GET, USERS, json={"users": []})
        with OneRosterClient(make_settings(), sleep=sleeps) as client:
            assert read(client) == ["u1"]
    assert sleeps == [7.0]


def test_a_retry_after_of_a_day_fails_at_once_instead_of_waiting(sleeps):
    with responses.RequestsMock() as rsps:
        token(rsps)
        rsps.add(responses.GET, USERS, status=429, headers={"Retry-After": "86400"})
        with OneRosterClient(make_settings(), sleep=sleeps) as client:
            with pytest.raises(ProviderUnavailable, match="wait 24 hours"):
                read(client)
    assert sleeps == []


def test_5xx_and_connection_errors_are_retried_with_growing_backoff(sleeps):
    with responses.RequestsMock() as rsps:
        token(rsps)
        rsps.add(responses.GET, USERS, status=503)
        rsps.add(responses.GET, USERS, body=requests.exceptions.ConnectionError("Connection refused"))
        rsps.add(responses.GET, USERS, body=requests.exceptions.ReadTimeout("read timed out"))
        rsps.add(responses.GET, USERS, json={"users": []})
        with OneRosterClient(make_settings(), sleep=sleeps, jitter=lambda: 1.0) as client:
            assert read(client) == []
    assert sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("drawn, waits", [(0.0, [0.25, 0.5, 1.0]), (0.5, [0.375, 0.75, 1.5])])
def test_back_offs_are_jittered_between_half_and_all_of_each_step(sleeps, drawn, waits):
    """Every client waited exactly 0.5, 1, 2 s: schools syncing from one SIS at 2:00 retried in the same instants
    (ClassLink asks for exponential back-off with jitter)."""
    with responses.RequestsMock() as rsps:
        token(rsps)
        for _ in range(3):
            rsps.add(responses.GET, USERS, status=503)
        rsps.add(responses.GET, USERS, json={"users": []})
        with OneRosterClient(make_settings(), sleep=sleeps, jitter=lambda: drawn) as client:
            read(client)
    assert sleeps == waits


def test_gives_up_after_bounded_retries_with_actionable_message(sleeps):
    with responses.RequestsMock() as rsps:
        token(rsps)
        for _ in range(3):
            rsps.add(responses.GET, USERS, status=500, json={"imsx_codeMajor": "failure",
                                                             "imsx_description": "Database offline"})
        with OneRosterClient(make_settings(), max_retries=2, sleep=sleeps) as client:
            with pytest.raises(ProviderUnavailable) as err:
                read(client)
    assert "HTTP 500" in err.value.message and "Database offline" in err.value.message
    assert "the portal tried 3 times" in err.value.message and "tries)" not in err.value.message and len(sleeps) == 2


def test_429_storm_gives_up_as_provider_unavailable(sleeps):
    with responses.RequestsMock() as rsps:
        token(rsps)
        rsps.add(responses.GET, USERS, status=429)
        with OneRosterClient(make_settings(), max_retries=3, sleep=sleeps) as client:
            with pytest.raises(ProviderUnavailable, match="too busy"):
                read(client)


def test_unreachable_host_says_to_check_the_url(sleeps):
    with responses.RequestsMock() as rsps:
        token(rsps)
        rsps.add(responses.GET, USERS, body=requests.exceptions.ConnectionError("Name or service not known"))
        with OneRosterClient(make_settings(), max_retries=1, sleep=sleeps) as client:
            with pytest.raises(ProviderUnavailable, match="Check the URL"):
                read(client)


def test_401_gets_one_fresh_token_then_succeeds():
    with responses.RequestsMock() as rsps:
        token(rsps, "old")
        token(rsps, "new")
        rsps.add(responses.GET, USERS, status=401)
        rsps.add(responses.GET, USERS, json={"users": []})
        with OneRosterClient(make_settings()) as client:
            read(client)
        assert rsps.calls[-1].request.headers["Authorization"] == "Bearer new"


def test_401_twice_is_authentication_failed():
    with responses.RequestsMock() as rsps:
        token(rsps)
        rsps.add(responses.GET, USERS, status=401)
        with OneRosterClient(make_settings()) as client:
            with pytest.raises(AuthenticationFailed, match="HTTP 401"):
                read(client)
            assert client.request_count == 4  # token, 401, fresh token, 401


def test_token_is_cached_and_refreshed_before_it_expires():
    now = [0.0]
    with responses.RequestsMock() as rsps:
        token(rsps, "first", expires_in=600)
        token(rsps, "second", expires_in=600)
        rsps.add(responses.GET, USERS, json={"users": []})
        with OneRosterClient(make_settings(), clock=lambda: now[0]) as client:
            read(client)
            now[0] = 500.0  # still well inside the lifetime: reuse
            read(client)
            now[0] = 545.0  # within the refresh margin before expires_in: refresh first
            read(client)
        auths = [c.request.headers.get("Authorization") for c in rsps.calls if c.request.method == "GET"]
        posts = [c for c in rsps.calls if c.request.method == "POST"]
    assert auths == ["Bearer first", "Bearer first", "Bearer second"] and len(posts) == 2
    assert posts[0].request.headers["Authorization"].startswith("Basic ")
    assert parse_qs(posts[0].request.body)["grant_type"] == ["client_credentials"]


def test_aeries_token_falls_back_to_old_path_and_keeps_cookies():
    base = "https://demo.aeries.net/aeries"
    settings = make_settings(vendor="aeries", base_url=base,
                             token_urls=(f"{base}/v2/oauth/token", f"{base}/token"))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{base}/v2/oauth/token", status=404, body="<html>Not found</html>")
        rsps.add(responses.POST, f"{base}/token", json={"access_token": "t", "expires_in": 21600},
                 headers={"Set-Cookie": "AeriesAffinity=abc123; Path=/"})
        rsps.add(responses.GET, f"{base}/ims/oneroster/v1p1/users", json={"users": []})
        with OneRosterClient(settings) as client:
            read(client)
        assert "AeriesAffinity=abc123" in rsps.calls[-1].request.headers["Cookie"]


@pytest.mark.parametrize("status", [401, 200])
def test_refused_credentials_name_the_vendor_screen(status):
    """Some token endpoints answer 200 with an OAuth error body (RFC 6749 says 400): the same words either way, not
    "has no access_token... Check the token URL"."""
    base = "https://demo.aeries.net/aeries"
    settings = make_settings(vendor="aeries", base_url=base, token_urls=(f"{base}/v2/oauth/token",))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{base}/v2/oauth/token", status=status, json={"error": "invalid_client"})
        with OneRosterClient(settings) as client:
            with pytest.raises(AuthenticationFailed) as err:
                client.authenticate()
    assert err.value.message.startswith(
        f"The SIS refused the Client ID and Secret (HTTP {status} from https://demo.aeries.net/aeries/v2/oauth/token).")
    assert "Check the Consumer ID and Secret Key on Aeries' API Security page." in err.value.message
    assert "top-secret-value" not in err.value.message


@pytest.mark.parametrize("code, said", [
    ("unsupported_grant_type", "does not issue tokens for the client-credentials grant that OneRoster uses"),
    ("invalid_request", "refused the token request as malformed"),
])
def test_a_token_url_that_refuses_the_request_itself_is_not_worded_as_a_wrong_secret(code, said):
    """RFC 6749's codes for a wrong token URL or request were answered "The SIS refused the Client ID and Secret",
    sending the user to re-check credentials that were never the problem."""
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, status=400, json={"error": code})
        with OneRosterClient(make_settings()) as client, pytest.raises(BadResponse) as err:
            client.authenticate()
    assert err.value.message.startswith(f"The token URL {TOKEN} {said} (HTTP 400 {code}).")
    assert "OneRoster token URL" in err.value.message and "refused the Client ID" not in err.value.message
    assert not isinstance(err.value, AuthenticationFailed)


def test_a_wrong_campus_app_name_is_not_worded_as_a_wrong_secret():
    """The sandbox answers an unknown appName as Campus-like servers do (400 invalid_request), over real HTTP."""
    with running_sandbox("infinite-campus", schools=1, students=5, seed=4) as box:
        good = box.settings()
        wrong = dataclasses.replace(good, token_urls=tuple(u.replace(good.app_name, "nosuchapp") for u in
                                                            good.token_urls))
        with OneRosterClient(wrong) as client, pytest.raises(BadResponse) as err:
            client.authenticate()
    assert "refused the token request as malformed (HTTP 400 invalid_request)" in err.value.message
    assert 'The SIS said: "invalid_request: unknown appName".' in err.value.message


def test_a_redirect_from_https_to_http_on_the_same_host_names_the_scheme_that_changed():
    """It read "sent the request on to sis.example.org" while coming from sis.example.org: no clue what changed."""
    with responses.RequestsMock() as rsps:
        token(rsps)
        rsps.add(responses.GET, USERS, status=301, headers={"Location": USERS.replace("https://", "http://")})
        with OneRosterClient(make_settings()) as client, pytest.raises(BadResponse) as err:
            read(client)
    assert "The SIS at sis.example.org sent the request on to http://sis.example.org (HTTP 301)" in err.value.message


def test_403_names_the_aeries_permission_to_enable():
    base = "https://demo.aeries.net/aeries"
    settings = make_settings(vendor="aeries", base_url=base, token_urls=(f"{base}/v2/oauth/token",))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{base}/v2/oauth/token", json={"access_token": "t", "expires_in": 60})
        rsps.add(responses.GET, f"{base}/ims/oneroster/v1p1/schools/5/teachers", status=403)
        with OneRosterClient(settings) as client:
            with pytest.raises(PermissionDenied) as err:
                read(client, "schools/5/teachers")
    assert err.value.area == "teachers"
    assert err.value.message == (
        "The SIS denied read access to Teacher Data (HTTP 403 on "
        "https://demo.aeries.net/aeries/ims/oneroster/v1p1/schools/5/teachers). "
        "Enable READ for Teacher Data on the Aeries API Security page, then do a full IIS reset.")


@pytest.mark.parametrize("status,body,ctype,error,text", [
    (404, {"imsx_codeMajor": "failure", "imsx_CodeMinor": "unknownobject"}, None, NotFound, "unknownobject"),
    (400, {"statusInfoSet": [{"imsx_codeMajor": "failure", "imsx_severity": "error",
                              "imsx_description": "Invalid filter field",
                              "imsx_CodeMinor": {"imsx_codeMinorField": [
                                  {"imsx_codeMinorFieldName": "x", "imsx_codeMinorFieldValue": "invalid_filter_field"}]}}]},
     None, BadResponse, 'said: "Invalid filter field" (codeMajor=failure, codeMinor=invalid_filter_field)'),
    (422, {"imsx_statusInfo": {"imsx_description": "Bad sort"}}, None, BadResponse, "Bad sort"),
    (200, "<!DOCTYPE html><html><head><title>Aeries Login</title></head></html>", "text/html", BadResponse,
     'web page ("Aeries Login")'),
    (200, '{"users": [{"sourcedId": "u1"', "application/json", BadResponse, "incomplete JSON"),
    (200, "not json at all", "text/plain", BadResponse, "malformed JSON"),
    (200, {"people": []}, None, BadResponse, "instead of a 'users' or 'students' or 'teachers' list"),
    (200, {"users": {"sourcedId": "u1"}}, None, BadResponse, "is not a list"),
    (200, {"imsx_codeMajor": "failure", "imsx_description": "Token scope"}, None, BadResponse, "Token scope"),
])
def test_error_bodies_become_typed_errors(status, body, ctype, error, text):
    with responses.RequestsMock() as rsps:
        token(rsps)
        if isinstance(body, dict):
            rsps.add(responses.GET, USERS, status=status, json=body)
        else:
            rsps.add(responses.GET, USERS, status=status, body=body, content_type=ctype)
        with OneRosterClient(make_settings()) as client:
            with pytest.raises(error) as err:
                read(client)
    assert text in err.value.message
    assert str(err.value) == err.value.message


def test_oversized_page_is_refused():
    with responses.RequestsMock() as rsps:
        token(rsps)
        rsps.add(responses.GET, USERS, json={"users": [user(f"u{i}") for i in range(50)]})
        with OneRosterClient(make_settings(), max_page_bytes=1000) as client:
            with pytest.raises(BadResponse, match="more than 0 MB|in one page"):
                read(client)


def test_oauth1_signs_every_query_parameter():
    settings = make_settings(auth_mode="oauth1", token_urls=())
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, USERS, json={"users": []})
        with OneRosterClient(settings) as client:
            list(client.iter_pages("users", filter="role='teacher'"))
        request = rsps.calls[0].request
    header = request.headers["Authorization"]
    header = header.decode() if isinstance(header, bytes) else header
    assert header.startswith("OAuth ") and 'oauth_signature_method="HMAC-SHA256"' in header
    # Recompute the signature over the query parameters: it only matches if every one was signed.
    from oauthlib.oauth1.rfc5849 import signature
    parts = urlsplit(request.url)
    params = signature.collect_parameters(uri_query=parts.query, headers={"Authorization": header})
    base = signature.signature_base_string("GET", signature.base_string_uri(request.url),
                                           signature.normalize_parameters(params))
    sent = dict(signature.collect_parameters(headers={"Authorization": header},
                                             exclude_oauth_signature=False))["oauth_signature"]
    client = SimpleNamespace(client_secret="top-secret-value", resource_owner_secret="")
    assert signature.sign_hmac_sha256_with_client(base, client) == sent
    assert {"limit", "offset", "sort", "filter"} <= {k for k, _ in params}


def test_a_next_link_that_echoes_a_query_signature_is_signed_afresh():
    """The server builds its Link next from the request's query, oauth_nonce and oauth_signature included: sent on
    beside the new ones, every page after the first was refused as 'The SIS refused our signed requests'."""
    records = [user(f"u{i:02d}") for i in range(25)]

    def callback(request):
        query = parse_qs(urlsplit(request.url).query)
        if any(len(values) > 1 for values in query.values()):
            return 401, {}, '{"error": "invalid_signature"}'
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        echoed = {k: v[0] for k, v in query.items()} | {"offset": str(offset + limit)}
        headers = {"Link": f'<{USERS}?{urlencode(echoed)}>; rel="next"'} if offset + limit < len(records) else {}
        return 200, headers, json.dumps({"users": records[offset:offset + limit]})

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, USERS, callback=callback)
        settings = make_settings(auth_mode="oauth1", oauth1_signature_type="query")
        with OneRosterClient(settings, page_size=10) as client:
            assert len(read(client)) == 25
        assert all(parse_qs(urlsplit(c.request.url).query)["oauth_signature"] for c in rsps.calls)


def test_oauth1_query_signature_type_puts_signature_in_url():
    settings = make_settings(auth_mode="oauth1", token_urls=(), oauth1_signature_type="query")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, USERS, json={"users": []})
        with OneRosterClient(settings) as client:
            list(client.iter_pages("users"))
        query = parse_qs(urlsplit(rsps.calls[0].request.url).query)
    assert query["oauth_signature_method"] == ["HMAC-SHA256"] and "oauth_signature" in query


def test_settings_repr_hides_the_secret():
    assert "top-secret-value" not in repr(make_settings())


def test_orgs_a_schools_listing_sends_that_are_not_schools_are_not_offered_as_schools():
    """A `schools` listing that also sends the district and its departments offered them as schools to map, and
    the district's id passed Test connection's "School found" (its people sync then finds no students)."""
    orgs = [{"sourcedId": "0", "name": "Unified District", "type": "district"},
            {"sourcedId": "994", "name": "North High", "type": "school"},
            {"sourcedId": "d-art", "name": "Art Department", "type": "Department"},
            {"sourcedId": "5", "name": "South Middle"},  # no type: kept, as before
            {"sourcedId": "st", "name": "State", "type": "state"}]
    with responses.RequestsMock() as rsps:
        token(rsps)
        for _ in range(2):
            rsps.add(responses.GET, f"{DATA}/schools", json={"orgs": orgs})
            rsps.add(responses.GET, f"{DATA}/schools", json={"orgs": []})
        with OneRosterClient(make_settings()) as client:
            assert [s.source_id for s in client.get_schools()] == ["994", "5"]
            schools, others = client.get_orgs()  # the others by type, for Test connection to name them
        assert [s.source_id for s in schools] == ["994", "5"]
        assert {sid: (kind, org.name) for sid, (kind, org) in others.items()} == {
            "0": ("district", "Unified District"), "d-art": ("department", "Art Department"), "st": ("state", "State")}


@pytest.mark.parametrize("status", [200, 400, 503])
@pytest.mark.parametrize("code", ["temporarily_unavailable", "server_error"])
def test_a_token_endpoint_saying_it_is_unavailable_is_not_blamed_on_the_credentials(status, code):
    base = "https://demo.aeries.net/aeries"
    settings = make_settings(vendor="aeries", base_url=base, token_urls=(f"{base}/v2/oauth/token",))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, f"{base}/v2/oauth/token", status=status, json={"error": code})
        with OneRosterClient(settings, max_retries=0) as client, pytest.raises(ConnectorError) as err:
            client.authenticate()
    assert "Client ID and Secret" not in err.value.message.split("not with")[0]
    if status != 503:
        assert f"answered {code}" in err.value.message and "Try again later" in err.value.message
