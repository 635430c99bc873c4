"""People absent from a full read are looked up one by one before they are archived (jobs.confirm): canned HTTP
for the SIS's answers (404, 5xx, time-outs, another school, unsupported), the planner on its own, no database."""
from contextlib import nullcontext
from urllib.parse import quote

import pytest
import requests
import responses

from connectors.client import OneRosterClient
from connectors.settings import ConnectionSettings
from jobs.confirm import confirm_leavers
from jobs.fields import FIELDS
from jobs.plan import Planner, SyncOptions

from tests.jobs.test_planner import ROLES, index, person, record

BASE = "https://sis.example.org/oneroster"
USERS = f"{BASE}/ims/oneroster/v1p1/users"
TOKEN = f"{BASE}/token"


def settings() -> ConnectionSettings:
    return ConnectionSettings(vendor="oneroster", base_url=BASE, token_urls=(TOKEN,), client_id="cid",
                              client_secret="top-secret-value", school_id="sch1", auth_mode="oauth2")


def sis_user(sid, school="sch1", **extra) -> dict:
    return {"sourcedId": sid, "status": "active", "role": "student", "givenName": "Ann", "familyName": "Lee",
            "orgs": [{"sourcedId": school, "type": "org"}], "enabledUser": "true", **extra}


def planner_missing(*absent, present=()) -> Planner:
    """A planner after a full read (archive on) that brought `present` but not `absent`, all of them students here."""
    people = [person(sid, email=f"{sid}@sis.example.org") for sid in absent + present]
    planner = Planner(index(*people), SyncOptions(roles=ROLES, archive=True, full=True), FIELDS)
    planner.add_page([record(sid) for sid in present])
    return planner


def confirm(planner, **options):
    with OneRosterClient(settings(), sleep=lambda s: None, max_retries=1) as client:
        issues = confirm_leavers(planner, lambda: nullcontext(client), "sch1", **options)
    return issues, {sid for _, sid in planner.finish().archives}


def test_only_a_404_another_school_or_a_leaving_record_confirms_a_leave_and_a_failed_look_up_keeps_the_person():
    planner = planner_missing("gone", "shifted", "moved", "marked", "erring", "slow", present=("here",))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/here", json={"user": sis_user("here")})  # the control: look-ups work
        rsps.add(responses.GET, f"{USERS}/gone", status=404, json={"imsx_codeMajor": "failure",
                                                                    "imsx_CodeMinor": "unknownobject"})
        rsps.add(responses.GET, f"{USERS}/shifted", json={"user": sis_user("shifted")})
        rsps.add(responses.GET, f"{USERS}/moved", json={"user": sis_user("moved", school="sch9")})
        rsps.add(responses.GET, f"{USERS}/marked", json={"user": sis_user("marked", status="tobedeleted")})
        rsps.add(responses.GET, f"{USERS}/erring", status=503)
        rsps.add(responses.GET, f"{USERS}/slow", body=requests.exceptions.ReadTimeout("read timed out"))
        issues, archived = confirm(planner)
    assert archived == {"gone", "moved", "marked"}
    said = {sid: message for sid, _, message, *_ in issues}
    assert "1 person missing from the SIS's listings was still active at this school when looked up one by one " \
           "(shifted), so it was kept and synced as usual, not archived" in said["shifted"]
    assert "2 people missing from the SIS's listings could not be looked up one by one (erring, slow), so they " \
           "were kept, not archived; the next sync asks again" in said["erring"]
    assert planner.plan.counts["issues"] == 2


def test_past_the_bound_the_rest_count_as_having_left_within_the_guard_and_the_run_says_how_many():
    planner = planner_missing("a", "b", "c", "d")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        for sid in "ab":
            rsps.add(responses.GET, f"{USERS}/{sid}", json={"user": sis_user(sid)})
        issues, archived = confirm(planner, at_most=2)
        assert len(rsps.calls) == 3  # the token and two look-ups
    assert archived == {"c", "d"}
    assert any(message.startswith("2 more people missing from the SIS's listings were not looked up one by one (a "
                                  "sync looks up at most 2), so they count as having left, within the archive "
                                  "guard's limit") for _, _, message in issues)


def test_after_three_failed_look_ups_the_rest_are_kept_without_asking():
    planner = planner_missing("a", "b", "c", "d", "e")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/a", status=500)
        rsps.add(responses.GET, f"{USERS}/b", status=500)
        rsps.add(responses.GET, f"{USERS}/c", status=500)
        issues, archived = confirm(planner)
        asked = {call.request.url.rsplit("/", 1)[1] for call in rsps.calls[1:]}
    assert archived == set() and asked == {"a", "b", "c"}
    assert issues[-1][2].startswith("5 people missing from the SIS's listings could not be looked up one by one")


def test_a_sis_without_single_user_look_ups_archives_as_before_and_says_so():
    planner = planner_missing("a", "b")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/a", status=404, json={
            "imsx_codeMajor": "failure", "imsx_CodeMinor": "unsupported", "imsx_description": "Not supported"})
        issues, archived = confirm(planner)
        assert len(rsps.calls) == 2  # asked once
    assert archived == {"a", "b"}
    assert issues[-1][2].startswith("The SIS does not offer single-user look-ups, so 2 people missing from its "
                                    "listings count as having left without being checked")


@pytest.mark.parametrize("options", [dict(archive=True, full=True), dict(archive=False, full=True),
                                     dict(archive=True, full=False)], ids=["nobody absent", "archive off", "delta"])
def test_no_look_up_when_nobody_would_be_archived_for_being_absent(options):
    people = [person("a", email="a@sis.example.org"), person("b", email="b@sis.example.org")]
    planner = Planner(index(*people), SyncOptions(roles=ROLES, **options), FIELDS)
    planner.add_page([record("a")] + ([record("b")] if options == dict(archive=True, full=True) else []))

    def no_client():
        raise AssertionError("a client was opened though nobody is to be archived for being absent")
    assert confirm_leavers(planner, no_client, "sch1") == []


def test_an_answer_that_cannot_say_the_person_left_keeps_them_and_says_what_the_sis_sent():
    """Someone else's record (a SIS ignoring the id), a case-changed id, or a record naming no org at all is not a
    leave: archiving on it removed people who never left."""
    planner = planner_missing("other", "upper", "bare", present=("here",))
    slim = {k: v for k, v in sis_user("slim").items() if k != "orgs"}
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/here", json={"user": sis_user("here")})
        rsps.add(responses.GET, f"{USERS}/other", json={"user": sis_user("first-user")})
        rsps.add(responses.GET, f"{USERS}/upper", json={"user": sis_user("UPPER")})
        rsps.add(responses.GET, f"{USERS}/bare", json={"user": sis_user("bare", orgs=[])})
        issues, archived = confirm(planner)
    assert archived == set()
    message = issues[-1][2]
    assert message.startswith("3 people missing from the SIS's listings could not be looked up one by one (bare, "
                              "other, upper), so they were kept, not archived")
    assert "The SIS's record of bare" in message and "names no school (no orgs), so it cannot say whether they " \
                                                     "left. Ask the SIS vendor to include orgs" in message
    slim_planner = planner_missing("slim")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/slim", json={"user": slim})
        issues, archived = confirm(slim_planner)
    assert archived == set() and "The SIS's record of slim" in issues[-1][2]


def test_a_look_up_answered_with_another_persons_record_says_so_without_naming_it():
    planner = planner_missing("other")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/other", json={"user": sis_user("first-user")})
        issues, archived = confirm(planner)
    assert archived == set()
    assert 'The SIS answered the look-up of other (https://sis.example.org/oneroster/ims/oneroster/v1p1/users/other)' \
           ' with the record of someone else. Ask the SIS vendor why' in issues[-1][2]
    assert "first-user" not in issues[-1][2]  # perhaps a person of another school: not named to this one


@pytest.mark.parametrize("answer", [
    dict(body="<html><head><title>Sign in</title></head></html>", content_type="text/html"),
    dict(body='{"user": {"sourcedId": "a",', content_type="application/json"),
    dict(status=429, headers={"Retry-After": "1"}),
    dict(json={"user": "a"}), dict(json={"users": [{"sourcedId": "a"}]}),
], ids=["html", "malformed json", "429", "not a record", "a listing"])
def test_an_unusable_answer_keeps_the_person(answer):
    planner = planner_missing("a")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/a", **answer)
        issues, archived = confirm(planner)
    assert archived == set() and "could not be looked up one by one (a), so it was kept" in issues[-1][2]


def test_a_look_up_redirected_to_another_host_is_not_followed_and_keeps_the_person():
    planner = planner_missing("a")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/a", status=302, headers={"Location": "https://elsewhere.example.com/u/a"})
        rsps.add(responses.GET, "https://elsewhere.example.com/u/a", status=404)
        issues, archived = confirm(planner)
        assert [c.request.url.split("/")[2] for c in rsps.calls] == ["sis.example.org"] * 2  # the token stayed home
    assert archived == set()
    assert "sent the request on to" in issues[-1][2] and "did not follow it" in issues[-1][2]


@pytest.mark.parametrize("sid", [".", ".."])
def test_an_id_of_only_dots_is_not_looked_up_so_another_resources_404_archives_nobody(sid):
    # users/.. is sent as .../v1p1/ (requests removes dot segments): its 404 said "no such user" and archived them
    planner = planner_missing(sid)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{BASE}/ims/oneroster/v1p1/", status=404)
        rsps.add(responses.GET, f"{USERS}/", status=404)
        issues, archived = confirm(planner)
        assert len(rsps.calls) <= 1  # at most the token: nothing is asked under a dot segment
    assert archived == set()
    assert f"The SIS's sourcedId '{sid}' is only dots, which no URL can ask for one by one" in issues[-1][2]


def test_a_404_web_page_is_not_the_sis_saying_no_such_user():
    # IIS or a proxy answering for a path the API does not route: each absent person was 'confirmed' as left
    planner = planner_missing("a", "b")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/a", status=404, content_type="text/html",
                 body="<html><head><title>404 - File or directory not found.</title></head></html>")
        issues, archived = confirm(planner)
        assert len(rsps.calls) == 2  # asked once: the rest are not asked either
    assert archived == {"a", "b"}  # as before look-ups, within the archive guard, and the run says why
    assert issues[-1][2] == (
        "The SIS does not offer single-user look-ups, so 2 people missing from its listings count as having left "
        "without being checked, within the archive guard's limit. The SIS said: The SIS answered "
        f"{USERS}/a with a web page (HTTP 404), not OneRoster, so its API does not seem to offer users/{{sourcedId}}.")


def test_a_record_naming_only_the_district_is_not_a_leave_but_one_at_another_school_is():
    planner = planner_missing("itinerant", "moved")
    schools = [{"sourcedId": sid, "status": "active", "name": sid, "type": "school"} for sid in ("sch1", "sch9")]
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/itinerant", json={"user": sis_user("itinerant", school="dist1")})
        rsps.add(responses.GET, f"{USERS}/moved", json={"user": sis_user("moved", school="sch9")})
        rsps.add(responses.GET, f"{BASE}/ims/oneroster/v1p1/schools", json={"orgs": schools})
        issues, archived = confirm(planner)
        assert sum("/schools?" in call.request.url and "offset=0" in call.request.url
                   for call in rsps.calls) == 1  # the SIS's schools read once for both
    assert archived == {"moved"}
    assert "The SIS's record of itinerant" in issues[-1][2] and "names none of its schools (only dist1), so it " \
        "cannot say whether they left this school" in issues[-1][2]


def test_look_ups_stop_at_the_runs_time_limit_and_the_people_not_asked_are_kept():
    planner = planner_missing("a", "b", "c")
    asked_so_far = []
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/a", status=404, json={"imsx_codeMajor": "failure"})
        issues, archived = confirm(planner, tick=lambda: asked_so_far.append(1),
                                   out_of_time=lambda: len(asked_so_far) >= 1)  # the limit comes after one answer
        assert len(rsps.calls) == 2  # the token and the one look-up made in time
    assert archived == {"a"}  # b and c were never asked: kept, not archived
    assert any("2 people missing from the SIS's listings could not be looked up one by one before the run's time "
               "limit (b, c; the SIS answered slowly), so they were kept, not archived" in message
               for _, _, message in issues)


def test_a_sis_answering_404_even_for_someone_it_listed_is_not_believed_about_who_left():
    # An API without users/{id} that answers every path it lacks with a JSON 404: each absent person read as gone
    planner = planner_missing("a", "b", present=("here",))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/here", status=404, json={"imsx_codeMajor": "failure"})
        issues, archived = confirm(planner)
        assert [call.request.url.rsplit("/", 1)[1] for call in rsps.calls[1:]] == ["here"]  # nobody else asked
    assert archived == {"a", "b"}  # as before look-ups existed, within the archive guard, and the run says why
    assert issues[-1][2].startswith("The SIS does not offer single-user look-ups, so 2 people missing from its "
                                    "listings count as having left without being checked")
    assert "The SIS answered the look-up of here (users/here) with 404, although its listing had just included " \
           "that person, so its 404s cannot tell who left." in issues[-1][2]


def test_a_failing_control_look_up_keeps_everyone_absent():
    planner = planner_missing("a", "b", present=("here",))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/here", status=503)
        issues, archived = confirm(planner)
        # the control (retried once), and nobody else asked while the SIS fails
        assert {call.request.url.rsplit("/", 1)[1] for call in rsps.calls[1:]} == {"here"}
    assert archived == set()
    assert issues[-1][2].startswith("2 people missing from the SIS's listings were kept, not archived (a, b): a test "
                                    "look-up of someone the SIS had just listed failed, so it could not say who left; "
                                    "the next sync asks again. The SIS said: ")


def test_an_id_whose_url_a_proxy_refuses_keeps_that_person_and_the_others_are_still_asked():
    # "a/b" is sent as users/a%2Fb, which many web servers answer with their own 404 page (encoded slashes off):
    # it used to stop every look-up and archive the rest unchecked
    planner = planner_missing("a/b", "gone", "zed", present=("here",))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/here", json={"user": sis_user("here")})
        rsps.add(responses.GET, f"{USERS}/a%2Fb", status=404, content_type="text/html",
                 body="<html><head><title>404 Not Found</title></head></html>")
        rsps.add(responses.GET, f"{USERS}/gone", status=404, json={"imsx_codeMajor": "failure"})
        rsps.add(responses.GET, f"{USERS}/zed", json={"user": sis_user("zed")})
        issues, archived = confirm(planner)
    assert archived == {"gone"}
    said = {sid: message for sid, _, message, *_ in issues}
    assert said["a/b"].startswith("1 person missing from the SIS's listings could not be looked up one by one (a/b), "
                                  "so it was kept, not archived")
    assert "(zed), so it was kept and synced as usual" in said["zed"]


def test_a_control_deleted_since_it_was_listed_does_not_switch_the_look_ups_off():
    # A record deleted while the listing was read is often the first one listed: its 404 said "no usable look-ups"
    # and the person the shifted page never served was archived unchecked
    planner = planner_missing("shifted", present=("first", "second", "latest"))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/latest", status=404, json={"imsx_codeMajor": "failure"})
        rsps.add(responses.GET, f"{USERS}/first", json={"user": sis_user("first")})
        rsps.add(responses.GET, f"{USERS}/shifted", json={"user": sis_user("shifted")})
        issues, archived = confirm(planner)
    assert archived == set()
    assert "(shifted), so it was kept and synced as usual" in issues[-1][2]


def test_a_leaving_record_is_never_the_control():
    planner = planner_missing("shifted", present=("here",))
    planner.add_page([record("marked", status="tobedeleted")])  # listed last, and leaving: the SIS 404s it
    assert planner.listed_examples() == ["here"]


def test_past_the_bound_a_failing_sis_keeps_the_people_not_asked_too():
    planner = planner_missing("a", "b", "c", "d", present=("here",))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/here", status=503)
        issues, archived = confirm(planner, at_most=2)
    assert archived == set() and "4 people missing from the SIS's listings were kept" in issues[-1][2]


def test_after_three_failed_look_ups_the_people_past_the_bound_are_kept_too():
    planner = planner_missing("a", "b", "c", "d", "e")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        for sid in "abc":
            rsps.add(responses.GET, f"{USERS}/{sid}", status=500)
        issues, archived = confirm(planner, at_most=4)
    assert archived == set()


@pytest.mark.parametrize("sid", ["stu 1", "stu+1", "stu%1", "stü1", "a/b", "stu@x.org"])
def test_a_404_for_an_id_a_url_must_encode_is_not_believed(sid):
    # a server or proxy that decodes such a path wrongly looks up another id and answers "no such user"
    planner = planner_missing(sid, present=("here",))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{USERS}/here", json={"user": sis_user("here")})
        rsps.add(responses.GET, f"{USERS}/{quote(sid, safe='')}", status=404, json={"imsx_codeMajor": "failure"})
        issues, archived = confirm(planner)
    assert archived == set()
    assert f"The SIS said it has no user {sid}" in issues[-1][2] and "Archive this person by hand if they left" \
        in issues[-1][2]


def test_many_people_still_active_say_the_listings_left_people_out_not_a_shift():
    """75 of 125 people kept after a Link that skipped pages were put down to 'a listing that shifted; nothing needs
    doing'."""
    from jobs.confirm import kept_message
    assert "nothing needs doing unless it happens every night" in kept_message(["a", "b"])
    many = kept_message([f"s{i}" for i in range(75)])
    assert many.startswith("75 people missing from the SIS's listings were still active at this school")
    assert "the SIS's listings left people out (a paging fault of the SIS)" in many and "nothing needs" not in many
