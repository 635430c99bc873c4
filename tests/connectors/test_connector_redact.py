"""connectors.redact and connectors.secret_reuse: pure rules, table-driven."""
import base64
import dataclasses
import logging
from urllib.parse import quote

import pytest
import responses

from connectors.client import OneRosterClient
from connectors.errors import AuthenticationFailed
from connectors.redact import MASK, Redactor, install_log_redaction, redact
from connectors.secret_reuse import origin_of, reuse_refusal

from connector_helpers import TOKEN, make_settings

SECRET = "Zx9/q+w=Ee&r"


@pytest.mark.parametrize("text,expected", [
    ("Authorization: Basic Y2lkOnNlY3JldA==", f"Authorization: {MASK}"),
    ('{"authorization": "Bearer abc.def-123"}', f'{{"authorization": "{MASK}"}}'),
    ("got Basic Y2lkOnNlY3JldA== from you", f"got Basic {MASK} from you"),
    ("got Bearer eyJhbGciOi.x-1 back", f"got Bearer {MASK} back"),
    ('{"access_token":"t0k3n-value","expires_in":3600}', f'{{"access_token":"{MASK}","expires_in":3600}}'),
    ("client_secret=hunter2&grant_type=client_credentials", f"client_secret={MASK}&grant_type=client_credentials"),
    # Words that only look like credentials stay readable.
    ("Basic Mathematics 101 is full", "Basic Mathematics 101 is full"),
    ("the bearer services desk", "the bearer services desk"),
    ("Authorization failed for this client", "Authorization failed for this client"),
])
def test_credential_looking_values_are_masked_without_knowing_any_secret(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("form", [
    SECRET, "Zx9%2Fq%2Bw%3DEe%26r", "Zx9/q+w=Ee&amp;r", r"Zx9\/q+w=Ee&r",  # JSON with escaped slashes (PHP's default)
    base64.b64encode(f"cid:{SECRET}".encode()).decode(), base64.urlsafe_b64encode(f"cid:{SECRET}".encode()).decode(),
    base64.b64encode(f"cid:{quote(SECRET, safe='')}".encode()).decode().rstrip("="),
])
def test_every_encoding_of_the_secret_is_masked(form):
    masked = Redactor(SECRET, "cid")(f"the SIS said: {form}.")
    assert form not in masked and MASK in masked


def test_a_very_short_secret_is_masked_only_in_its_basic_form():
    redactor = Redactor("ab1", "cid")
    basic = base64.b64encode(b"cid:ab1").decode()
    assert redactor(f"tab1e {basic}") == f"tab1e {MASK}"


def test_tokens_added_later_are_masked_and_included_redactors_follow():
    client_side, run = Redactor(), Redactor(SECRET)
    run.include(client_side)
    client_side.add("tok_9f8e7d6c")
    assert run("token tok_9f8e7d6c and secret " + SECRET) == f"token {MASK} and secret {MASK}"


def test_log_records_are_masked_with_the_active_secrets_including_tracebacks(caplog):
    install_log_redaction()
    log = logging.getLogger("tests.redact")
    with Redactor(SECRET).active():
        try:
            raise ValueError(f"SIS said {SECRET}")
        except ValueError:
            log.exception("failed with %s", SECRET)
    assert SECRET not in caplog.text and "failed with ••••" in caplog.text and "SIS said ••••" in caplog.text
    log.warning("after the run %s", SECRET)  # no longer active: ordinary text is left alone
    assert f"after the run {SECRET}" in caplog.text


@responses.activate
def test_an_echoed_secret_is_masked_before_the_error_text_is_cut_short():
    """describe_body keeps 200 characters of a plain-text body: a secret at the cut must not half survive."""
    secret = "abcdefghijklmnopqrstuvwxyz0123456789"
    responses.post(TOKEN, status=401, body="." * 180 + " " + secret, content_type="text/plain")
    with OneRosterClient(make_settings(client_secret=secret), max_retries=0) as client:
        with pytest.raises(AuthenticationFailed) as refused:
            client.authenticate()
    assert secret[:8] not in refused.value.message and MASK in refused.value.message


AERIES = make_settings(vendor="aeries", base_url="https://demo.aeries.net/aeries",
                       token_urls=("https://demo.aeries.net/aeries/v2/oauth/token", "https://demo.aeries.net/aeries/token"))


@pytest.mark.parametrize("change,message", [
    ({}, ""),
    ({"base_url": "https://DEMO.aeries.net:443/other"}, ""),  # same origin: default port and case do not matter
    ({"base_url": "https://demo.aeries.net:8443/aeries"}, "the address changed"),
    ({"base_url": "http://demo.aeries.net/aeries"}, "the address changed"),
    ({"base_url": "https://aeries.evil.example/aeries"}, "the address changed"),
    ({"token_urls": ("https://demo.aeries.net/aeries/v2/oauth/token", "https://evil.example/token")},
     "the token address changed"),
    ({"client_id": "other"}, "the Client ID changed"),
    ({"vendor": "oneroster"}, "the SIS changed"),
    ({"auth_mode": "oauth1", "token_urls": ()}, "the authentication method changed"),
])
def test_the_saved_secret_is_reused_only_for_the_same_vendor_origins_and_client_id(change, message):
    refusal = reuse_refusal(AERIES, dataclasses.replace(AERIES, **change))
    assert refusal == (f"Enter the secret again: {message}." if message else "")


def test_unreadable_saved_settings_always_need_the_secret():
    assert reuse_refusal(None, AERIES).startswith("Enter the secret again")
    assert origin_of("not a url") == "" and origin_of("https://[::1]:8443/x") == "https://[::1]:8443"
