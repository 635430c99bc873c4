"""What a portal stores for a connection comes from its profile, and reads back as the same settings."""
from types import SimpleNamespace

import pytest

from connectors.profiles import PROFILES, get_profile

FORMS = {
    "aeries": {"url": "https://demo.aeries.net/aeries/", "client_id": "cid", "client_secret": "sec",
               "school_id": "994"},
    "infinite-campus": {"url": "https://campus.example.org/campus/api/oneroster/v1p1/minga", "client_id": "cid",
                        "client_secret": "sec", "school_id": "CE8DF1FC-3242-4716-A5F5-5A957F86DC36"},
    "oneroster": {"url": "https://sis.example.org/oneroster", "token_url": "https://sis.example.org/token",
                  "auth_mode": "oauth2", "client_id": "cid", "client_secret": "sec", "school_id": "SCH-1",
                  "scope": "district.read"},
    "powerschool": {"url": "https://district.powerschool.com/admin/home.html", "client_id": "cid",
                    "client_secret": "sec", "token_url": "https://district.powerschool.com/oauth/access_token",
                    "school_id": "100"},
    "skyward": {"url": "https://skyward.district.org/api/", "token_url": "https://skyward.district.org/api/token",
                "auth_mode": "oauth1", "client_id": "key", "client_secret": "sec", "school_id": "SKY-1"},
    "synergy": {"url": "https://synergy.district.org/oneroster", "token_url": "https://synergy.district.org/token",
                "client_id": "cid", "client_secret": "sec", "school_id": "SYN-1", "scope": "roster-core.readonly"},
    "classlink": {"url": "https://district.rosterserver.example.org", "client_id": "key", "client_secret": "sec",
                  "school_id": "CL-1"},
}


@pytest.mark.parametrize("vendor", sorted(FORMS))
def test_saved_fields_read_back_as_the_same_settings(vendor):
    profile = get_profile(vendor)
    settings = profile.normalise(FORMS[vendor])
    row = SimpleNamespace(**profile.saved_fields(settings))  # what the portal's RosterConnection row holds
    assert "sec" not in vars(row).values()  # the secret is stored apart, encrypted
    assert profile.normalise(profile.from_saved(row, "sec")) == settings
    assert profile.from_saved(row, "")["client_secret"] == ""  # the form never gets the secret back


def test_each_vendor_stores_what_it_needs_and_nothing_of_another():
    aeries = PROFILES["aeries"].saved_fields(PROFILES["aeries"].normalise(FORMS["aeries"]))
    assert aeries["url"] == "https://demo.aeries.net/aeries/" and aeries["token_url"] == ""
    campus = PROFILES["infinite-campus"].saved_fields(PROFILES["infinite-campus"].normalise(FORMS["infinite-campus"]))
    assert campus["app_name"] == "minga" and campus["token_url"] == ""
    other = PROFILES["oneroster"].saved_fields(PROFILES["oneroster"].normalise(FORMS["oneroster"]))
    assert other["token_url"] == "https://sis.example.org/token" and other["scope"] == "district.read"
    assert aeries["scope"] == campus["scope"] == ""  # the default scope is not stored: a new default applies


def test_prefill_takes_the_app_name_from_a_pasted_campus_url_only():
    pasted = {"url": "https://campus.example.org/campus/api/oneroster/v1p1/other-app/users", "app_name": "stale"}
    assert get_profile("infinite-campus").prefill(pasted)["app_name"] == "other-app"
    assert get_profile("aeries").prefill(pasted) == pasted


def test_classlink_is_stored_as_oauth1_and_reads_back_so():
    profile = PROFILES["classlink"]
    saved = profile.saved_fields(profile.normalise(FORMS["classlink"]))
    assert saved["auth_mode"] == "oauth1" and saved["token_url"] == ""
    assert profile.from_saved(SimpleNamespace(**saved), "sec")["auth_mode"] == "oauth1"
