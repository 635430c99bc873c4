"""PowerSchool, Skyward, Synergy and ClassLink profiles: field messages, URL rules, defaults and a real read."""
import pytest

from connectors.client import OneRosterClient
from connectors.errors import InvalidSettings
from connectors.profiles import PROFILES, get_profile
from connectors.settings import DEFAULT_SCOPE
from tests.support import running_sandbox

NEW = ("powerschool", "skyward", "synergy", "classlink")
FORMS = {
    "powerschool": {"url": "https://district.powerschool.com", "client_id": "cid", "client_secret": "sec",
                    "token_url": "https://district.powerschool.com/oauth/access_token", "school_id": "100"},
    "skyward": {"url": "https://skyward.district.org/api", "token_url": "https://skyward.district.org/api/token",
                "client_id": "key", "client_secret": "sec", "school_id": "SKY-1"},
    "synergy": {"url": "https://synergy.district.org/oneroster", "token_url": "https://synergy.district.org/token",
                "client_id": "cid", "client_secret": "sec", "school_id": "SYN-1"},
    "classlink": {"url": "https://district.rosterserver.example.org", "client_id": "key", "client_secret": "sec",
                  "school_id": "CL-1"},
}


def form(vendor, **values):
    return {**FORMS[vendor], **values}


def errors_of(vendor, **values):
    with pytest.raises(InvalidSettings) as err:
        get_profile(vendor).normalise(form(vendor, **values))
    return err.value.errors


def test_the_new_vendors_are_offered_before_the_generic_provider():
    keys = list(PROFILES)
    assert set(NEW) <= set(keys) and keys[-1] == "oneroster"
    assert {PROFILES[k].label for k in NEW} == {"PowerSchool SIS", "Skyward", "Synergy (Edupoint)",
                                                 "ClassLink Roster Server"}


@pytest.mark.parametrize("vendor", NEW)
def test_each_vendor_names_its_own_fields_and_required_values(vendor):
    errors = errors_of(vendor, url="", client_id="", client_secret=" ", school_id="")
    labels = {f.name: f.label for f in PROFILES[vendor].fields}
    assert errors["url"] == f"{labels['url']} is required."
    assert errors["client_id"] == f"{labels['client_id']} is required."
    assert errors["client_secret"] == f"{labels['client_secret']} is required."
    assert errors["school_id"] == "School ID is required."
    assert [f.name for f in PROFILES[vendor].fields if f.secret] == ["client_secret"]


@pytest.mark.parametrize("vendor", NEW)
def test_each_vendor_refuses_plain_http_and_names_its_example(vendor):
    message = errors_of(vendor, url="http://sis.district.org/api")["url"]
    assert "must start with https://" in message and PROFILES[vendor].example in message


def test_classlink_signs_with_oauth1_by_default_and_needs_no_token_url():
    settings = get_profile("classlink").normalise(form("classlink", url="https://district.rosterserver.example.org/"
                                                                        "ims/oneroster/v1p1/users"))
    assert settings.auth_mode == "oauth1" and settings.token_urls == ()
    assert settings.base_url == "https://district.rosterserver.example.org"
    assert PROFILES["classlink"].prefill({})["auth_mode"] == "oauth1"  # the form preselects it


def test_classlink_oauth2_needs_the_typed_token_url():
    assert errors_of("classlink", auth_mode="oauth2")["token_url"] == "Token URL is required."
    settings = get_profile("classlink").normalise(form("classlink", auth_mode="oauth2",
                                                       token_url="https://auth.example.org/token"))
    assert settings.auth_mode == "oauth2" and settings.token_urls == ("https://auth.example.org/token",)


@pytest.mark.parametrize("url,expected", [
    ("https://skyward.district.org/api", "https://skyward.district.org/api"),
    ("https://skyward.district.org/api/", "https://skyward.district.org/api"),
    ("https://Skyward.District.org/api/ims/oneroster/v1p1/users?limit=5", "https://skyward.district.org/api"),
    ("https://district.org/skyward/api/ims/oneroster/v1p1", "https://district.org/skyward/api"),
])
def test_skyward_url_is_cut_back_to_its_api(url, expected):
    assert get_profile("skyward").normalise(form("skyward", url=url)).base_url == expected


def test_skyward_url_without_api_says_where_to_find_it():
    message = errors_of("skyward", url="https://skyward.district.org/scripts/wsisa.dll")["url"]
    assert "must end with /api" in message and "API Configuration" in message


@pytest.mark.parametrize("url", ["https://district.powerschool.com", "https://district.powerschool.com/",
                                 "https://district.powerschool.com/admin/home.html",
                                 "https://district.powerschool.com/ims/oneroster/v1p1/schools"])
def test_powerschool_url_is_the_server(url):
    settings = get_profile("powerschool").normalise(form("powerschool", url=url))
    assert settings.base_url == "https://district.powerschool.com"
    assert settings.token_urls == ("https://district.powerschool.com/oauth/access_token",)


def test_powerschool_offers_only_oauth2_and_needs_its_token_url():
    assert "token_url" in errors_of("powerschool", token_url="")
    assert "Choose OAuth 2.0 client credentials." == errors_of("powerschool", auth_mode="oauth1")["auth_mode"]
    token_help = next(f.help for f in PROFILES["powerschool"].fields if f.name == "token_url")
    assert "do not confirm" in token_help  # the unconfirmed path is said, not assumed


def test_synergy_recommends_oauth2_and_keeps_the_granted_scopes():
    settings = get_profile("synergy").normalise(form("synergy"))
    assert settings.auth_mode == "oauth2" and settings.scope == DEFAULT_SCOPE
    scoped = get_profile("synergy").normalise(form("synergy", scope="roster-core.readonly, roster.readonly"))
    assert scoped.scope == "roster-core.readonly roster.readonly"
    assert "deprecated" in dict(PROFILES["synergy"].auth_modes)["oauth1"]
    assert errors_of("synergy", token_url="")["token_url"] == "Token Endpoint URL is required."


@pytest.mark.parametrize("vendor,words", [
    ("powerschool", "Plugin Management Configuration"), ("skyward", "Secured User"),
    ("synergy", "Synergy administrator"), ("classlink", "Roster Server Applications")])
def test_each_vendor_says_where_to_grant_a_denied_area(vendor, words):
    fix = PROFILES[vendor].fix_for("enrollments")
    assert words in fix and "enrollments" in fix
    assert PROFILES[vendor].credentials_hint != PROFILES["oneroster"].credentials_hint


SANDBOXES = {"powerschool": {}, "skyward": {"base_path": "/api"}, "synergy": {},
             "classlink": {"auth": "oauth1"}}


@pytest.mark.parametrize("vendor", NEW)
def test_each_vendor_reads_the_sandbox_over_real_http(vendor):
    with running_sandbox("oneroster", students=40, seed=4, **SANDBOXES[vendor]) as box:
        info = box.info
        values = {"url": info["base_url"], "client_id": info["client_id"], "client_secret": info["client_secret"],
                  "school_id": info["school_ids"][0]}
        if vendor != "classlink":
            values["token_url"] = info["token_url"]
        settings = get_profile(vendor).normalise(values, allow_loopback_http=True)
        assert settings.vendor == vendor and settings.auth_mode == info["auth_mode"]
        with OneRosterClient(settings, page_size=25, sleep=lambda s: None) as client:
            schools = {s.source_id for s in client.get_schools()}
            users = [r["sourcedId"] for page in client.iter_pages("users") for r in page]
        assert set(info["school_ids"]) <= schools
        assert len(users) == len(set(users)) and len(users) >= 40
