"""The client against the sandbox SIS over real HTTP, per vendor, with and without faults."""
import json
import subprocess
import sys
import time

import pytest
import requests

from connectors.client import OneRosterClient
from connectors.errors import BadResponse, PermissionDenied, ProviderUnavailable
from connectors.records import PersonRecord, RecordProblem
from tests.support import running_sandbox, sandbox_fixture

from connector_helpers import CONFIGS

ALL_ROLES = {"student", "teacher", "staff", "school_admin", "parent"}
sandbox = sandbox_fixture(configs=CONFIGS, schools=3, students=240, seed=7)
aeries = sandbox_fixture("aeries", schools=3, students=240, seed=7)


def all_user_ids(box, sleeps=None, page_size=40):
    with OneRosterClient(box.settings(), page_size=page_size, sleep=(lambda s: None) if sleeps is None else sleeps) as client:
        return [r["sourcedId"] for page in client.iter_pages("users") for r in page]


def roster(box, school_index=0, sleeps=None, roles=ALL_ROLES, **kwargs):
    settings = box.settings(school_index)
    with OneRosterClient(settings, page_size=40, sleep=(lambda s: None) if sleeps is None else sleeps) as client:
        return [item for page in client.iter_roster(settings.school_id, roles, **kwargs) for item in page]


def test_every_user_of_the_district_is_read_exactly_once(sandbox):
    ids = all_user_ids(sandbox)
    assert len(ids) == len(set(ids)) and set(ids) == set(sandbox.data.users)


def test_roster_matches_the_sandbox_truth(sandbox):
    for index in range(3):
        got = roster(sandbox, index)
        assert all(isinstance(p, PersonRecord) for p in got)
        assert sorted(p.source_id for p in got) == sorted({p.source_id for p in got})
        assert set(got) == set(sandbox.people(index, parents="all"))


def test_every_user_once_despite_faults(sandbox, sleeps):
    sandbox.page_cap = 7  # the server silently caps our limit of 40
    sandbox.set_faults(rate_limit_storm=3, retry_after=2, error_500={"path": "users", "page": 3},
                       token_expiry_after=5, slow={"path": "users", "page": 1, "seconds": 0.2})
    ids = all_user_ids(sandbox, sleeps)
    assert len(ids) == len(set(ids)) and set(ids) == set(sandbox.data.users)
    assert sleeps.count(2.0) == 3  # Retry-After honoured for each 429
    if sandbox.auth == "oauth2":
        assert sandbox.credentials.issued >= 2  # a fresh token after the old one stopped working


def test_record_faults_reach_the_engine_as_leavers_problems_and_repeats(sandbox):
    chosen = sandbox.set_faults(tobedeleted=2, duplicates=3, missing_names=1)["records"]
    items = roster(sandbox, 0, roles={"student"})
    people = [p for p in items if isinstance(p, PersonRecord)]
    problems = [p for p in items if isinstance(p, RecordProblem)]
    ids = [p.source_id for p in people]
    school = sandbox.data.school_ids[0]
    mine = lambda sid: school in {o["sourcedId"] for o in sandbox.data.users[sid]["orgs"]}  # noqa: E731
    repeated = {sid for sid in set(ids) if ids.count(sid) > 1}
    assert repeated and repeated == {s for s in chosen["duplicates"] if mine(s)}  # passed on for the engine
    assert all(ids.count(sid) == 2 for sid in repeated)
    assert {p.source_id for p in people if p.is_leaving and p.status == "tobedeleted"} == {
        s for s in chosen["tobedeleted"] if mine(s)}
    assert {p.source_id for p in problems} == {s for s in chosen["missing_names"] if mine(s)}
    assert all("no givenName or familyName" in p.message for p in problems)


@pytest.mark.parametrize("fault,error,text", [
    ({"malformed_json": {"path": "users", "page": 1}}, BadResponse, "malformed JSON"),
    ({"html_page": {"path": "users", "page": 0}}, BadResponse, '"Service Unavailable"'),
    ({"truncated": {"path": "users", "page": 1}}, BadResponse, "cut off"),
    ({"deny": ["users"]}, PermissionDenied, "Enable READ for Student Data, Teacher Data and Staff Data"),
    ({"reset": {"path": "users", "page": 2, "times": 99}}, ProviderUnavailable, "dropped the connection"),
])
def test_broken_pages_raise_clear_errors(aeries, fault, error, text, sleeps):
    aeries.set_faults(**fault)
    with pytest.raises(error) as err:
        all_user_ids(aeries, sleeps)
    assert text in err.value.message


def test_one_connection_reset_is_retried_and_every_user_arrives_once(aeries, sleeps):
    aeries.set_faults(reset={"path": "users", "page": 2})
    ids = all_user_ids(aeries, sleeps)
    assert len(ids) == len(set(ids)) and set(ids) == set(aeries.data.users)
    assert len(sleeps) == 1 and 0.25 <= sleeps[0] <= 0.5  # one back-off (jittered), for the one reset


def test_one_garbled_compressed_page_is_retried_and_every_user_arrives_once(aeries, sleeps):
    """A deflate body that does not inflate escaped as requests' ContentDecodingError: a sync "stopped unexpectedly"."""
    aeries.set_faults(bad_compression={"path": "users", "page": 1})
    ids = all_user_ids(aeries, sleeps)
    assert len(ids) == len(set(ids)) and set(ids) == set(aeries.data.users)
    assert len(sleeps) == 1 and 0.25 <= sleeps[0] <= 0.5


def test_a_next_link_no_url_parser_reads_is_passed_over_and_paging_goes_on_by_offset(aeries):
    """urljoin raised ValueError ("Invalid IPv6 URL") out of the paging loop."""
    aeries.set_faults(bad_link={"path": "users", "page": 0})
    ids = all_user_ids(aeries)
    assert len(ids) == len(set(ids)) and set(ids) == set(aeries.data.users)


@pytest.mark.parametrize("charset", ["iso-8859-1", "windows-1252", "utf-16"])
def test_pages_in_the_charset_their_content_type_declares_are_read_with_every_name_intact(aeries, charset):
    """JSON that is not UTF-8 was "malformed JSON ... Try again" on every page, however often one tried."""
    aeries.set_faults(body_charset=charset)
    with OneRosterClient(aeries.settings(), page_size=40) as client:
        names = {r["sourcedId"]: r["familyName"] for page in client.iter_pages("users") for r in page}
    assert names == {sid: raw["familyName"] for sid, raw in aeries.data.users.items()}
    assert any(not name.isascii() for name in names.values())  # García, Müller...: the bytes that differ


def test_latin_1_without_a_declared_charset_says_to_send_utf_8_not_to_try_again(aeries):
    aeries.set_faults(body_charset="iso-8859-1", charset_declared=False)
    with pytest.raises(BadResponse) as err:
        all_user_ids(aeries)
    assert "The SIS sent text that is not UTF-8 (HTTP 200 from " in err.value.message
    assert "Ask the SIS vendor to send UTF-8, as JSON requires." in err.value.message
    assert "Try again" not in err.value.message


def test_aeries_data_calls_need_the_cookie_from_the_token_response(aeries):
    info = aeries.info
    session = requests.Session()
    token = session.post(info["token_url"], data={"grant_type": "client_credentials"},
                         auth=(info["client_id"], info["client_secret"])).json()["access_token"]
    url = f"{info['base_url']}/ims/oneroster/v1p1/schools"
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(url, headers=headers).status_code == 401
    assert session.get(url, headers=headers).status_code == 200


def test_aeries_old_token_path_is_used_when_v2_is_missing():
    with running_sandbox("aeries", schools=1, students=20, seed=1, legacy_token=True) as box:
        assert len(all_user_ids(box)) == len(box.data.users)


def test_delta_sync_returns_only_changed_people(aeries):
    before = time.time()
    changed = aeries.mutate(change_fraction=0.1, remove_fraction=0.05, seed=3, remove_mode="tobedeleted")
    renamed = aeries.rename(aeries.data.user_ids("students", "994")[0], given_name="Renée")
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(before - 1))
    from datetime import datetime
    items = roster(aeries, 0, since=datetime.fromisoformat(since.replace("Z", "+00:00")))
    got = {p.source_id for p in items}
    touched = set(changed["changed"]) | set(changed["tobedeleted"]) | {renamed["sourcedId"]}
    assert got and got <= touched
    assert next(p for p in items if p.source_id == renamed["sourcedId"]).given_name == "Renée"


def test_admin_api_drives_a_sandbox_over_http(aeries, sleeps):
    admin = aeries.info["admin_url"]
    # every listing that could hold teachers is denied (a school listing alone would fall back to global ones)
    assert requests.post(admin, json={"action": "set_faults", "deny": ["teachers", "users"]}).ok
    with pytest.raises(PermissionDenied, match="Teacher Data"):
        roster(aeries, 0, roles={"teacher"})
    assert requests.post(admin, json={"action": "clear_faults"}).ok
    people = requests.post(admin, json={"action": "people", "school_index": 1}).json()
    assert {p["source_id"] for p in people} == {p.source_id for p in aeries.people(1)}
    assert requests.post(admin, json={"action": "explode"}).status_code == 400


def test_command_line_prints_connection_details():
    proc = subprocess.Popen([sys.executable, "-m", "connectors.sandbox", "--vendor", "infinite-campus",
                             "--port", "0", "--schools", "2", "--students", "10", "--seed", "3"],
                            stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert info["base_url"].endswith("/campus/api/oneroster/v1p1/minga")
        assert info["token_url"].endswith("/campus/oauth2/token?appName=minga")
        assert len(info["school_ids"]) == 2 and info["admin_url"].startswith("http://127.0.0.1:")
        assert requests.post(info["admin_url"], json={"action": "info"}).json()["vendor"] == "infinite-campus"
    finally:
        proc.terminate()
        proc.wait(5)


def test_sandbox_filters_fields_and_single_records(aeries):
    with OneRosterClient(aeries.settings(), page_size=50) as client:
        aides = [r for page in client.iter_pages("users", filter="role='aide'") for r in page]
        assert aides and {r["role"] for r in aides} == {"aide"}
        slim = client.first_page("users", limit=3)
        assert len(slim) == 3
        named = next(client.iter_pages("users", fields=["sourcedId", "givenName"]))
        assert set(named[0]) == {"sourcedId", "givenName"}
        with pytest.raises(BadResponse, match="OR filters are not supported"):
            list(client.iter_pages("users", filter="role='aide' OR role='proctor'"))
        sid = aides[0]["sourcedId"]
        assert client.get(client.url_for(f"users/{sid}")).body.startswith(b'{"user"')
        assert [s.source_id for s in client.get_schools()] == ["1", "5", "994"]  # sorted by sourcedId
