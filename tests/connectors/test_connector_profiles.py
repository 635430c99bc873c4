"""Vendor form validation and URL normalisation, with the exact examples from DESIGN.md."""
import pytest

from connectors.errors import InvalidSettings
from connectors.profiles import PROFILES, app_name_from_url, get_profile

GUID = "CE8DF1FC-3242-4716-A5F5-5A957F86DC36"
IC_BASE = "https://campus.example.org/campus/api/oneroster/v1p1/minga"
IC_TOKEN = "https://campus.example.org/campus/oauth2/token?appName=minga"


def aeries(**values):
    form = {"url": "https://demo.aeries.net/aeries/", "client_id": "cid", "client_secret": "sec", "school_id": "5"}
    form.update(values)
    return get_profile("aeries").normalise(form, allow_loopback_http=values.pop("_loop", False))


def campus(**values):
    form = {"url": IC_BASE, "client_id": "cid", "client_secret": "sec", "app_name": "", "school_id": GUID}
    form.update(values)
    return get_profile("infinite-campus").normalise(form)


def other(loopback=False, **values):
    form = {"url": "https://sis.example.org/api", "token_url": "https://sis.example.org/api/token",
            "auth_mode": "oauth2", "client_id": "cid", "client_secret": "sec", "school_id": "sch-1"}
    form.update(values)
    return get_profile("oneroster").normalise(form, allow_loopback_http=loopback)


def errors_of(call, **values):
    with pytest.raises(InvalidSettings) as err:
        call(**values)
    return err.value.errors


@pytest.mark.parametrize("url", ["https://demo.aeries.net/aeries/", "https://demo.aeries.net/aeries",
                                 "  https://demo.aeries.net/aeries/LoginParent.aspx  ",
                                 "https://demo.aeries.net/aeries/ims/oneroster/v1p1/users?limit=5",
                                 "https://demo.aeries.net/aeries/v2/oauth/token"])
def test_aeries_url_forms_normalise_to_the_sub_directory(url):
    settings = aeries(url=url)
    assert settings.base_url == "https://demo.aeries.net/aeries"
    assert settings.data_url == "https://demo.aeries.net/aeries/ims/oneroster/v1p1"
    assert settings.token_urls == ("https://demo.aeries.net/aeries/v2/oauth/token",
                                   "https://demo.aeries.net/aeries/token")


def test_aeries_url_without_sub_directory_is_refused():
    message = errors_of(aeries, url="https://demo.aeries.net/")["url"]
    assert "sub-directory" in message and "/aeries/" in message


@pytest.mark.parametrize("school_id,expected", [("5", "5"), ("994", "994"), (" 05 ", "5")])
def test_aeries_school_codes(school_id, expected):
    assert aeries(school_id=school_id).school_id == expected


def test_aeries_school_code_must_be_digits():
    assert "digits only" in errors_of(aeries, school_id="Lincoln High")["school_id"]


def test_aeries_labels():
    assert [f.label for f in PROFILES["aeries"].fields] == ["Aeries URL", "Consumer ID", "Consumer Secret Key",
                                                           "School ID"]
    assert [f.name for f in PROFILES["aeries"].fields if f.secret] == ["client_secret"]


@pytest.mark.parametrize("url,app", [
    (IC_BASE, ""),
    (IC_BASE + "/", ""),
    (IC_BASE + "/ims/oneroster/v1p1/users?limit=5", ""),
    (IC_TOKEN, ""),
    ("https://campus.example.org/campus/api/oneroster/v1p1/", "minga"),
    (IC_BASE, IC_TOKEN),
])
def test_campus_urls_are_cut_back_and_app_name_derived(url, app):
    settings = campus(url=url, app_name=app)
    assert settings.base_url == IC_BASE
    assert settings.token_urls == (IC_TOKEN,)
    assert settings.app_name == "minga"


def test_campus_guid_is_normalised_to_upper_case():
    assert campus(school_id=GUID.lower()).school_id == GUID


@pytest.mark.parametrize("bad", ["994", "CE8DF1FC-3242-4716-A5F5", "not-a-guid"])
def test_campus_school_id_must_be_a_guid(bad):
    assert GUID in errors_of(campus, school_id=bad)["school_id"]


def test_campus_app_name_mismatch_and_missing():
    assert "differs" in errors_of(campus, app_name="other")["app_name"]
    errors = errors_of(campus, url="https://campus.example.org/campus/api/oneroster/v1p1/")
    assert errors["app_name"] == "App Name is required."


def test_campus_url_without_oneroster_path_is_explained():
    assert "/api/oneroster/v1p1/" in errors_of(campus, url="https://campus.example.org/campus/")["url"]


def test_campus_labels():
    assert [f.label for f in PROFILES["infinite-campus"].fields] == ["URL", "Client ID", "Client Secret",
                                                                    "App Name", "School ID"]


@pytest.mark.parametrize("url,expected", [
    (IC_BASE, "minga"), (IC_BASE + "/ims/oneroster/v1p1/users?limit=5", "minga"), (IC_TOKEN, "minga"),
    ("https://campus.example.org/campus/", ""), ("", ""), ("::not a url", ""),
])
def test_app_name_from_url(url, expected):
    assert app_name_from_url(url) == expected


def test_other_provider_cuts_pasted_api_path_and_needs_token_url_for_oauth2():
    settings = other(url="https://sis.example.org/api/ims/oneroster/v1p1/users/")
    assert settings.base_url == "https://sis.example.org/api" and settings.token_urls == (
        "https://sis.example.org/api/token",)
    assert errors_of(other, token_url="")["token_url"] == "Token URL is required."
    oauth1 = other(auth_mode="oauth1", token_url="")
    assert oauth1.auth_mode == "oauth1" and oauth1.token_urls == ()
    assert "OAuth" in errors_of(other, auth_mode="kerberos")["auth_mode"]


@pytest.mark.parametrize("call,field", [(aeries, "url"), (campus, "url"), (other, "url"), (other, "token_url")])
def test_plain_http_is_refused(call, field):
    url = {"url": IC_BASE if call is campus else "https://demo.aeries.net/aeries/",
           "token_url": "https://sis.example.org/token"}[field].replace("https://", "http://")
    assert "https://" in errors_of(call, **{field: url})[field]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_http_loopback_only_with_the_dev_flag(host):
    url = f"http://{host}:8080/oneroster"
    assert other(loopback=True, url=url, token_url=url + "/token").base_url == url
    assert "https://" in errors_of(other, url=url, token_url=url + "/token")["url"]
    assert "https://" in errors_of(other, loopback=True, url="http://sis.example.org/x",
                                   token_url="http://sis.example.org/x/token")["url"]


@pytest.mark.parametrize("value,message", [("", "is required"), ("   ", "is required"),
                                           ("abc\ndef", "control character"), ("x" * 2001, "too long")])
def test_every_field_is_trimmed_required_and_sane(value, message):
    for name in ("client_id", "client_secret", "school_id"):
        assert message in errors_of(other, **{name: value})[name]


@pytest.mark.parametrize("name,limit", [("client_id", 500), ("school_id", 200)])
def test_ids_longer_than_the_portal_stores_are_refused_by_name(name, limit):
    assert getattr(other(**{name: "9" * limit}), name) == "9" * limit
    assert f"at most {limit} characters" in errors_of(other, **{name: "9" * (limit + 1)})[name]


def test_values_are_trimmed():
    settings = other(client_id="  cid  ", client_secret=" sec ", school_id=" sch-1 ")
    assert (settings.client_id, settings.client_secret, settings.school_id) == ("cid", "sec", "sch-1")


@pytest.mark.parametrize("area,permission", [
    ("students", "Student Data"), ("schools", "Schools"), ("terms", "Terms"), ("teachers", "Teacher Data"),
    ("courses", "Course Data"), ("classes", "Classes and Master Schedule"),
    ("enrollments", "Master Schedule and Classes"), ("users", "Student Data, Teacher Data and Staff Data")])
def test_aeries_fix_texts(area, permission):
    assert PROFILES["aeries"].fix_for(area) == (
        f"Enable READ for {permission} on the Aeries API Security page, then do a full IIS reset.")


def test_campus_and_generic_fix_texts():
    assert "give the application 'minga' access to teachers" in PROFILES["infinite-campus"].fix_for(
        "teachers", app_name="minga")
    assert "OneRoster Provisioning" in PROFILES["infinite-campus"].fix_for("teachers", app_name="minga")
    assert PROFILES["oneroster"].fix_for("users") == (
        "Ask your SIS vendor to grant this client read access to users.")
