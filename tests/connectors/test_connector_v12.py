"""OneRoster 1.2: records with roles[] and primaryOrg, Campus' legacy id, the v1p2 path and scopes, the Campus 1.2 URL
rule, and the sandbox's 1.2 view over real HTTP (same people, new sourcedIds)."""
from datetime import datetime, timezone

import pytest

from connectors.client import OneRosterClient
from connectors.errors import InvalidSettings
from connectors.profiles import get_profile
from connectors.people import DateCheck, school_page
from connectors.records import RosterNotice, normalise_user
from connectors.sandbox import Sandbox
from connectors.settings import CORE_SCOPE_V12, ROSTER_SCOPE_V12
from tests.support import sandbox_fixture

CAMPUS = get_profile("infinite-campus")
GUID = "CE8DF1FC-3242-4716-A5F5-5A957F86DC36"
ROLES = {"student", "teacher", "staff", "school_admin"}
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)

campus = sandbox_fixture("infinite-campus", schools=2, students=24, seed=31, oneroster_12=True)
generic = sandbox_fixture("oneroster", schools=2, students=24, seed=32, oneroster_12=True)


def user_12(**more):
    raw = {"sourcedId": "9f2c", "status": "active", "givenName": "Ann", "familyName": "Lee", "enabledUser": "true",
           "roles": [{"roleType": "secondary", "role": "aide", "org": {"sourcedId": "sch-2"}},
                     {"roleType": "primary", "role": "teacher", "org": {"sourcedId": "sch-1"}}],
           "primaryOrg": {"sourcedId": "sch-1", "type": "org"}}
    return {**raw, **more}


def test_a_1_2_user_takes_the_primary_role_and_every_org_it_names():
    person = normalise_user(user_12())
    assert (person.role, person.sis_role, person.school_ids) == ("teacher", "teacher", ("sch-2", "sch-1"))
    assert person.legacy_id == ""


@pytest.mark.parametrize("metadata, legacy", [
    ({"ic.legacysourceId": "123456"}, "123456"),
    ({"ic": {"legacysourceId": 123456}}, "123456"),
    ({"ic.legacysourceId": {"nested": "no"}}, ""),
    ("not an object", ""),
])
def test_campus_legacy_ids_are_read_from_metadata_in_either_spelling(metadata, legacy):
    assert normalise_user(user_12(metadata=metadata)).legacy_id == legacy


@pytest.mark.parametrize("broken", [dict(givenName="", familyName=""), dict(roles=[
    {"roleType": "primary", "role": "ext:intern", "org": {"sourcedId": "sch-1"}}]),
    dict(roles=None, role="nurse", primaryOrg={"sourcedId": "sch-1"})])
def test_a_broken_1_2_user_of_a_global_listing_is_reported_to_the_school_its_roles_name(broken):
    """It names its school only in roles[].org or primaryOrg: judged by `orgs` alone it was nobody's and dropped, so a
    full read counted the person as having left the roster (archived with Archive on)."""
    raw = {**user_12(roles=[{"roleType": "primary", "role": "aide", "org": {"sourcedId": "sch-1"}}]), **broken}
    page = school_page([raw], frozenset({"staff"}), "sch-1", scoped=False, seen=set(), dates=DateCheck(NOW))
    assert [(type(item).__name__, item.source_id) for item in page] == [("RecordProblem", "9f2c")]
    elsewhere = school_page([raw], frozenset({"staff"}), "sch-9", scoped=False, seen=set(), dates=DateCheck(NOW))
    assert elsewhere == []  # another school's broken record is still not this school's issue


def test_user_profiles_of_any_shape_never_break_a_record():
    for profiles in ([{"profileId": "p", "credentials": "broken"}], "nonsense", None, [None, 3]):
        assert normalise_user(user_12(userProfiles=profiles)).given_name == "Ann"


def test_the_campus_1_2_url_has_no_app_name_so_it_comes_from_the_field_or_the_token_url():
    url = "https://campus.example.org/campus/api/ims/oneroster/rostering/v1p2"
    values = {"url": url, "client_id": "id", "client_secret": "secret", "school_id": GUID, "oneroster_version": "1.2"}
    with pytest.raises(InvalidSettings) as refused:
        CAMPUS.normalise(values)
    assert refused.value.errors == {"app_name": "App Name is required."}
    settings = CAMPUS.normalise({**values, "app_name": "https://campus.example.org/campus/oauth2/token?appName=minga"})
    assert settings.data_url == url and settings.token_urls == (
        "https://campus.example.org/campus/oauth2/token?appName=minga",)
    assert settings.scope == f"{CORE_SCOPE_V12} {ROSTER_SCOPE_V12}"
    # The 1.1 URL with 1.2 chosen reads the same 1.2 address; what is saved reads back to the same settings.
    moved = CAMPUS.normalise({**values, "url": "https://campus.example.org/campus/api/oneroster/v1p1/minga"})
    assert moved.data_url == url
    row = type("Row", (), {**CAMPUS.saved_fields(moved)})()
    assert CAMPUS.normalise(CAMPUS.from_saved(row, "secret")) == moved


def test_aeries_offers_1_1_only():
    values = {"url": "https://demo.aeries.net/aeries/", "client_id": "id", "client_secret": "s", "school_id": "5",
              "oneroster_version": "1.2"}
    with pytest.raises(InvalidSettings) as refused:
        get_profile("aeries").normalise(values)
    assert refused.value.errors == {"oneroster_version": "Aeries offers OneRoster 1.1 here; choose it."}
    with pytest.raises(ValueError, match="Aeries serves OneRoster 1.1 only"):
        Sandbox("aeries", oneroster_12=True)


@pytest.mark.parametrize("which", ["campus", "generic"])
def test_the_sandbox_serves_the_same_people_at_1_2_under_new_sourcedids(request, which):
    box = request.getfixturevalue(which)
    read = {}
    for version in ("1.1", "1.2"):
        settings = box.settings(version=version)
        with OneRosterClient(settings) as client:
            pages = list(client.iter_roster(settings.school_id, ROLES | {"parent"}))
            spec = "v1p2" if version == "1.2" else "v1p1"
            assert client.tokens.granted.split()[0].startswith(f"https://purl.imsglobal.org/spec/or/{spec}/")
        items = [item for page in pages for item in page]
        assert not [i for i in items if isinstance(i, RosterNotice)]  # the school listings were read, no fallback
        read[version] = items
    old = {p.source_id: p for p in read["1.1"]}
    new = {p.source_id: p for p in read["1.2"]}
    assert len(old) == len(new) > 0 and not set(old) & set(new)
    by_name = lambda people: sorted((p.role, p.given_name, p.family_name, p.email, p.identifier)  # noqa: E731
                                    for p in people.values())
    assert by_name(old) == by_name(new)
    if which == "campus":
        assert {p.legacy_id for p in new.values()} == set(old)
    else:
        assert {p.legacy_id for p in new.values()} == {""}


def test_a_1_2_client_granted_only_the_core_scope_reads_the_global_listing(generic):
    generic.set_faults(scopes_granted=[CORE_SCOPE_V12])
    settings = generic.settings(version="1.2")
    with OneRosterClient(settings) as client:
        pages = list(client.iter_roster(settings.school_id, {"student"}))
        assert client.tokens.granted == CORE_SCOPE_V12
    [notice] = [item for page in pages for item in page if isinstance(item, RosterNotice)]
    assert "read from the SIS's students listing" in notice.message and "roster.readonly" in notice.message
