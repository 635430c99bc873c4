"""Credentials that expire: the warning window and a 401 after the date worded as "probably expired"."""
import dataclasses
from datetime import date, timedelta

import pytest

from connectors.client import OneRosterClient
from connectors.checklist import run_connection_test
from connectors.errors import AuthenticationFailed, InvalidSettings
from connectors.expiry import expiry_warning, today


def shown(day: date) -> str:
    return day.strftime("%b ") + f"{day.day}, {day.year}"  # "Dec 1, 2026", as every page shows a date
from connectors.profiles import get_profile
from connectors.profiles.base import months_after
from tests.support import sandbox_fixture

CAMPUS = get_profile("infinite-campus")


campus = sandbox_fixture("infinite-campus", schools=1, students=10, seed=8)


@pytest.mark.parametrize("days, expected", [
    (31, ""),
    (30, "The SIS credentials expire on {d} (in 30 days). "),
    (1, "The SIS credentials expire on {d} (in 1 day). "),
    (0, "The SIS credentials expire on {d} (today). "),
    (-1, "The SIS credentials expired on {d}; syncs will fail until they are renewed. "),
])
def test_the_warning_starts_30_days_before_the_date(days, expected):
    on = date(2026, 12, 1)
    expires = on + timedelta(days=days)
    text = expected.format(d=shown(expires)) + CAMPUS.renew_hint if expected else ""
    assert expiry_warning(expires, CAMPUS.renew_hint, on=on) == text
    assert expiry_warning(None, CAMPUS.renew_hint, on=on) == expiry_warning("", CAMPUS.renew_hint, on=on) == ""
    assert expiry_warning(expires.isoformat(), CAMPUS.renew_hint, on=on) == text


def test_a_refusal_after_the_expiry_date_says_the_credentials_probably_expired(campus):
    campus.set_faults(credentials_expired=True)
    expired = dataclasses.replace(campus.settings(), credentials_expire_on=(today() - timedelta(days=2)).isoformat())
    with OneRosterClient(expired) as client, pytest.raises(AuthenticationFailed) as caught:
        client.authenticate()
    message = caught.value.message
    assert "The credentials have probably expired: they were due to expire on " \
           f"{shown(today() - timedelta(days=2))}." in message
    assert "set a later Token Expiration Date" in message
    rows = run_connection_test(expired)
    assert rows[0].status == "failed" and rows[0].fix.startswith("The credentials have probably expired")


def test_a_data_call_refused_after_the_date_says_so_too(campus):
    expired = dataclasses.replace(campus.settings(), credentials_expire_on=(today() - timedelta(days=1)).isoformat())
    with OneRosterClient(expired) as client:
        client.authenticate()
        campus.set_faults(credentials_expired=True)
        with pytest.raises(AuthenticationFailed, match="The credentials have probably expired"):
            client.first_page("users")


def test_before_the_date_a_refusal_is_worded_as_usual(campus):
    campus.set_faults(credentials_expired=True)
    later = dataclasses.replace(campus.settings(), credentials_expire_on=(today() + timedelta(days=5)).isoformat())
    with OneRosterClient(later) as client, pytest.raises(AuthenticationFailed) as caught:
        client.authenticate()
    assert "refused the Client ID and Secret" in caught.value.message
    assert "probably expired" not in caught.value.message and CAMPUS.credentials_hint in caught.value.message


def test_campus_takes_a_date_up_to_13_months_ahead_and_no_later():
    values = {"url": "https://campus.example.org/campus/api/oneroster/v1p1/minga", "client_id": "id",
              "client_secret": "secret", "school_id": "CE8DF1FC-3242-4716-A5F5-5A957F86DC36"}
    limit = months_after(today(), 13)
    assert CAMPUS.normalise({**values, "credentials_expire_on": limit.isoformat()}).credentials_expire_on == \
        limit.isoformat()
    past = today() - timedelta(days=400)  # already expired: accepted, so the page can say so
    assert CAMPUS.normalise({**values, "credentials_expire_on": past.isoformat()}).credentials_expire_on == \
        past.isoformat()
    with pytest.raises(InvalidSettings) as refused:
        CAMPUS.normalise({**values, "credentials_expire_on": (limit + timedelta(days=1)).isoformat()})
    assert refused.value.errors["credentials_expire_on"].startswith("Campus lets credentials last at most 13 months")
    other = get_profile("oneroster").normalise({**values, "token_url": "https://sis.example.org/token",
                                                "credentials_expire_on": "2099-12-31"})
    assert other.credentials_expire_on == "2099-12-31"  # no vendor limit known for the others
