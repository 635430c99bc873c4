"""OAuth 2.0 scopes against the sandbox over real HTTP: defaults, the granted scope, retry, wording."""
import dataclasses

import pytest

from connectors.client import OneRosterClient
from connectors.errors import ScopeRefused
from connectors.profiles import get_profile
from connectors.sandbox import oneroster_form_values, start_sandbox
from connectors.settings import CORE_SCOPE, DEFAULT_SCOPE, ROSTER_SCOPE


@pytest.fixture(params=["aeries", "infinite-campus", "oneroster"])
def box(request):
    sandbox = start_sandbox(request.param, schools=2, students=20, seed=3)
    yield sandbox
    sandbox.stop()


def test_every_profile_asks_for_the_oneroster_read_scopes_and_keeps_what_was_granted(box):
    box.set_faults(scope_required=True)
    settings = box.settings()
    assert settings.scope == DEFAULT_SCOPE == f"{CORE_SCOPE} {ROSTER_SCOPE}"
    with OneRosterClient(settings) as client:
        client.authenticate()
        assert client.tokens.granted.split() == [CORE_SCOPE, ROSTER_SCOPE]
        assert client.first_page(f"schools/{settings.school_id}/students")


def test_a_refused_scope_is_retried_once_with_the_core_scope_alone(box):
    box.set_faults(scopes_granted=[CORE_SCOPE])
    with OneRosterClient(box.settings()) as client:
        client.authenticate()
        assert client.tokens.granted == CORE_SCOPE
        assert client.tokens.grants(CORE_SCOPE) and not client.tokens.grants(ROSTER_SCOPE)
        assert client.request_count == 2  # the refused request and the retry
        assert client.first_page("users")


@pytest.mark.parametrize("code", ["invalid_scope", "unauthorized_client"])
def test_no_scope_granted_says_what_to_ask_the_district_for(box, code):
    box.set_faults(scopes_granted=[], scope_error=code)
    with OneRosterClient(box.settings()) as client, pytest.raises(ScopeRefused) as caught:
        client.authenticate()
    message = caught.value.message
    assert message.startswith("The district granted this client less than it needs: ask the district's SIS "
                              f"administrator for the OneRoster scope roster-core.readonly ({CORE_SCOPE}) ")
    assert f"(HTTP 400 {code} from " in message
    assert "refused the Client ID and Secret" not in message
    assert box.credentials.client_secret not in message


def test_wrong_secret_is_still_worded_as_a_refused_secret(box):
    bad = dataclasses.replace(box.settings(), client_secret="not-the-secret-42")
    with OneRosterClient(bad) as client, pytest.raises(Exception) as caught:
        client.authenticate()
    assert not isinstance(caught.value, ScopeRefused)
    assert "refused the Client ID and Secret (HTTP 401" in str(caught.value)


def test_other_form_scope_override_is_what_the_sis_sees():
    sandbox = start_sandbox("oneroster", schools=1, students=5, seed=4)
    try:
        sandbox.set_faults(scopes_granted=["district.roster.read"], scope_required=True)
        values = dict(oneroster_form_values(sandbox.info), scope="  district.roster.read ")
        settings = get_profile("oneroster").normalise(values, allow_loopback_http=True)
        assert settings.scope == "district.roster.read"
        with OneRosterClient(settings) as client:
            client.authenticate()
            assert client.tokens.granted == "district.roster.read" and client.request_count == 1
    finally:
        sandbox.stop()


@pytest.mark.parametrize("value, expected", [("", DEFAULT_SCOPE), ("   ", DEFAULT_SCOPE),
                                             ("a.read, b.read", "a.read b.read")])
def test_other_form_scope_field_is_optional(value, expected):
    values = {"url": "https://sis.example.org/oneroster", "token_url": "https://sis.example.org/token",
              "auth_mode": "oauth2", "client_id": "c", "client_secret": "s", "school_id": "x", "scope": value}
    assert get_profile("oneroster").normalise(values).scope == expected


def test_other_form_scope_field_refuses_pasted_markup():
    values = {"url": "https://sis.example.org/oneroster", "token_url": "https://sis.example.org/token",
              "auth_mode": "oauth2", "client_id": "c", "client_secret": "s", "school_id": "x",
              "scope": '"roster"<b>'}
    with pytest.raises(Exception) as caught:
        get_profile("oneroster").normalise(values)
    assert "OAuth scopes may not contain quotes" in caught.value.errors["scope"]
