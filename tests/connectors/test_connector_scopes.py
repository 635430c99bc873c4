"""OAuth 2.0 scopes against the sandbox over real HTTP: defaults, the granted scope, retry, wording."""
import dataclasses

import pytest

from connectors.client import OneRosterClient
from connectors.errors import ScopeRefused
from connectors.profiles import get_profile
from connectors.records import RosterNotice
from connectors.sandbox import oneroster_form_values
from connectors.settings import CORE_SCOPE, DEFAULT_SCOPE, ROSTER_SCOPE
from tests.support import running_sandbox, sandbox_fixture

from connector_helpers import EACH_VENDOR


box = sandbox_fixture(configs=EACH_VENDOR, schools=2, students=20, seed=3)


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


@pytest.mark.parametrize("style", ["short", "commas"])
def test_granted_scopes_named_short_or_joined_by_commas_still_open_the_schools_own_listing(box, style):
    """Read strictly, such a reply granted nothing the portal recognised: every school listing was skipped as
    "needs roster.readonly, which the token does not grant" and the whole district's students were read instead."""
    box.set_faults(scope_reply=style)
    settings = box.settings()
    with OneRosterClient(settings) as client:
        items = [item for page in client.iter_roster(settings.school_id, {"student"}) for item in page]
        assert client.tokens.grants(ROSTER_SCOPE) and client.tokens.grants(CORE_SCOPE)
    assert items and not [i for i in items if isinstance(i, RosterNotice)]  # no fallback was needed
    assert len(items) == len([p for p in box.people() if p.role == "student"])


def test_wrong_secret_is_still_worded_as_a_refused_secret(box):
    bad = dataclasses.replace(box.settings(), client_secret="not-the-secret-42")
    with OneRosterClient(bad) as client, pytest.raises(Exception) as caught:
        client.authenticate()
    assert not isinstance(caught.value, ScopeRefused)
    assert "refused the Client ID and Secret (HTTP 401" in str(caught.value)


def test_other_form_scope_override_is_what_the_sis_sees():
    with running_sandbox("oneroster", schools=1, students=5, seed=4) as sandbox:
        sandbox.set_faults(scopes_granted=["district.roster.read"], scope_required=True)
        values = dict(oneroster_form_values(sandbox.info), scope="  district.roster.read ")
        settings = get_profile("oneroster").normalise(values, allow_loopback_http=True)
        assert settings.scope == "district.roster.read"
        with OneRosterClient(settings) as client:
            client.authenticate()
            assert client.tokens.granted == "district.roster.read" and client.request_count == 1


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
