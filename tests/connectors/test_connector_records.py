"""Normalising raw OneRoster users, and picking a school's people out of the endpoints."""
import json
from datetime import datetime, timezone

import pytest
import responses

from connectors.client import OneRosterClient
from connectors.errors import BadResponse
from connectors.records import PersonRecord, RecordProblem, normalise_user

from connector_helpers import DATA, TOKEN, make_settings, user


@pytest.mark.parametrize("role,expected", [
    ("student", "student"), ("teacher", "teacher"), ("aide", "staff"), ("proctor", "staff"),
    ("administrator", "school_admin"), ("parent", "parent"), ("guardian", "parent"), ("relative", "parent"),
    ("Teacher", "teacher")])
def test_oneroster_1_1_roles(role, expected):
    assert normalise_user(user("u1", role)).role == expected


@pytest.mark.parametrize("roles,expected", [
    ([{"roleType": "primary", "role": "principal"}], "school_admin"),
    ([{"roleType": "secondary", "role": "teacher"}, {"roleType": "primary", "role": "counselor"}], "staff"),
    ([{"role": "districtAdministrator"}], "school_admin"), ([{"role": "siteAdministrator"}], "school_admin")])
def test_oneroster_1_2_roles(roles, expected):
    raw = user("u1", roles=roles)
    del raw["role"]
    assert normalise_user(raw).role == expected


def test_full_record_is_mapped():
    raw = user("u1", "student", middleName="Ann", email="zoe@example.org", username="zobrien", identifier="1234",
               grades=["09"], sms="+1 555", enabledUser="false", status="tobedeleted",
               agents=[{"sourcedId": "g1", "type": "user"}, {"sourcedId": "g2"}],
               orgs=[{"sourcedId": "994", "href": "~/ims/oneroster/v1p1/orgs/994"}],
               dateLastModified="2026-01-02T03:04:05.123Z")
    person = normalise_user(raw)
    assert person == PersonRecord(
        source_id="u1", role="student", given_name="Zoë", family_name="O'Brien", middle_name="Ann",
        email="zoe@example.org", username="zobrien", identifier="1234", grades=("09",), phone="+1 555",
        status="tobedeleted", enabled=False, school_ids=("994",), agent_ids=("g1", "g2"),
        date_last_modified=datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=timezone.utc), sis_role="student")
    assert person.is_leaving


@pytest.mark.parametrize("value,enabled", [("true", True), ("false", False), (True, True), (False, False),
                                           (None, True)])
def test_enabled_user_strings_and_bools(value, enabled):
    assert normalise_user(user("u1", enabledUser=value)).enabled is enabled


@pytest.mark.parametrize("raw,message", [
    ({"role": "student", "givenName": "A"}, "no sourcedId"),
    (user("u9", "janitor"), "User u9 has 'janitor'"),
    (user("u9", givenName="", familyName=None), "User u9 (student) has no givenName or familyName"),
    ("not a record", "not a JSON object")])
def test_unusable_records_raise_specific_bad_response(raw, message):
    with pytest.raises(BadResponse) as err:
        normalise_user(raw)
    assert message in err.value.message


def serve(rsps, path, records):
    def callback(request):
        return 200, {"X-Total-Count": str(len(records))}, json.dumps({"users": records})
    rsps.add_callback(responses.GET, f"{DATA}/{path}", callback=callback)


def test_iter_roster_picks_the_schools_people_once_and_reports_problems():
    students = [user("s1"), user("s2"), user("s3", givenName="", familyName="")]
    teachers = [user("t1", "teacher"), user("s1")]  # odd server: a student listed with teachers
    users = students + teachers + [
        user("a1", "administrator"), user("a2", "administrator", orgs=[{"sourcedId": "other"}]),
        user("x1", "aide"), user("g1", "guardian", orgs=[]), user("g2", "relative", orgs=[]),
        user("bad", "aide", givenName="", familyName="", orgs=[{"sourcedId": "other"}]),
        user("t1", "teacher")]
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "t"})
        serve(rsps, "schools/sch1/students", students)
        serve(rsps, "schools/sch1/teachers", teachers)
        serve(rsps, "users", users)
        with OneRosterClient(make_settings()) as client:
            pages = list(client.iter_roster("sch1", {"student", "teacher", "staff", "school_admin", "parent"},
                                            since=datetime(2026, 1, 1)))
        assert "filter=dateLastModified%3E%272026-01-01T00%3A00%3A00Z%27" in rsps.calls[1].request.url
    items = [item for page in pages for item in page]
    people = {p.source_id: p.role for p in items if isinstance(p, PersonRecord)}
    problems = [p for p in items if isinstance(p, RecordProblem)]
    assert people == {"s1": "student", "s2": "student", "t1": "teacher", "a1": "school_admin", "x1": "staff",
                      "g1": "parent", "g2": "parent"}
    assert [(p.source_id, "no givenName" in p.message) for p in problems] == [("s3", True)]
    assert '"sourcedId": "s3"' in problems[0].raw_excerpt


def test_iter_roster_only_fetches_what_the_roles_need():
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "t"})
        serve(rsps, "schools/sch1/students", [user("s1")])
        with OneRosterClient(make_settings()) as client:
            assert [p.source_id for page in client.iter_roster("sch1", {"student"}) for p in page] == ["s1"]
    with pytest.raises(ValueError, match="Unknown roles"):
        list(OneRosterClient(make_settings()).iter_roster("sch1", {"janitor"}))


def test_dates_after_the_read_started_count_as_its_start_in_every_listing(monkeypatch):
    """The delta mark is the latest date read: a date ahead of our clock (an offset-less local time east of UTC)
    counts as the read's start, for the last listing too, which may start long after the first."""
    import connectors.people as people

    starts = iter([datetime(2026, 12, 4, 2, 0, tzinfo=timezone.utc), datetime(2026, 12, 4, 4, 0, tzinfo=timezone.utc)])

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return next(starts)

    monkeypatch.setattr(people, "datetime", Clock)
    ahead = "2026-12-04T12:00:00"  # 12:00 at UTC+10 is 02:00 UTC; read as UTC, ten hours ahead
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "t"})
        serve(rsps, "schools/sch1/students", [user("s1", dateLastModified=ahead)])
        serve(rsps, "schools/sch1/teachers", [user("t1", "teacher", dateLastModified=ahead)])
        with OneRosterClient(make_settings()) as client:
            dates = {p.source_id: p.date_last_modified for page in client.iter_roster("sch1", {"student", "teacher"})
                     for p in page}
    assert dates == {"s1": datetime(2026, 12, 4, 2, 0, tzinfo=timezone.utc),
                     "t1": datetime(2026, 12, 4, 2, 0, tzinfo=timezone.utc)}


def test_hostile_text_is_cleaned_where_every_api_reader_builds_its_people():
    raw = user("u1", role="student\x00", givenName="Ana\x00", familyName="Ru\ud800iz\n",
               orgs=[{"sourcedId": "s\x001"}], agents=[{"sourcedId": "p\x1b1"}], grades=["0\x009"])
    person = normalise_user(raw)
    assert (person.role, person.sis_role, person.given_name, person.family_name) == ("student", "student", "Ana", "Ruiz")
    assert (person.school_ids, person.agent_ids, person.grades) == (("s1",), ("p1",), ("09",))
    problem = RecordProblem("u\x002", "Ana\ud800 has no role", json.dumps(raw, ensure_ascii=False))
    assert (problem.source_id, problem.message) == ("u2", "Ana has no role") and "\ud800" not in problem.raw_excerpt


def test_a_raw_record_with_a_lone_surrogate_packs_as_text_the_spool_can_hold():
    from connectors.packed import pack_record
    text = pack_record({"sourcedId": "u\ud800"}, None)
    text.encode("utf-8")  # the spool's COPY encodes it
    assert json.loads(text[1:]) == {"sourcedId": "u\ud800"}
