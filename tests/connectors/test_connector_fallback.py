"""Refused school-scoped listings fall back to global ones filtered by the person's orgs (sandbox, real HTTP)."""
import dataclasses

import pytest
import responses

from connectors.client import OneRosterClient
from connectors.errors import BadResponse, NotFound, PermissionDenied
from connectors.records import PersonRecord, RosterNotice
from connectors.settings import CORE_SCOPE
from tests.support import running_sandbox, sandbox_fixture

from connector_helpers import DATA, EACH_VENDOR, TOKEN, make_settings, user

ROLES = {"student", "teacher", "staff", "school_admin", "parent"}
SCHOOLS = [{"sourcedId": sid, "status": "active", "name": f"School {sid}", "type": "school"} for sid in ("sch1", "sch9")]


box = sandbox_fixture(configs=EACH_VENDOR, schools=3, students=90, seed=5)


def read(box, roles=ROLES, school_index=1, settings=None):
    settings = settings or box.settings(school_index)
    with OneRosterClient(settings, page_size=25) as client:
        items = [i for page in client.iter_roster(settings.school_id, roles) for i in page]
    people = sorted(i.source_id for i in items if isinstance(i, PersonRecord))
    notices = [i.message for i in items if isinstance(i, RosterNotice)]
    return people, notices


def truth(box, school_index=1, roles=ROLES):
    return sorted(p.source_id for p in box.people(school_index, parents="all") if p.role in roles)


@pytest.mark.parametrize("how, reason", [
    ("forbidden", "was refused (HTTP 403)"),
    ("missing", "is not offered by this SIS (HTTP 404)"),
    ("iis", "is not offered by this SIS (HTTP 404)"),
    ("unsupported", "is not offered by this SIS (HTTP 400)"),
    # RFC 6750's challenge on a 401: it failed the whole sync as "refused our access token, even a fresh one".
    ("challenge", "was refused (HTTP 401)"),
])
def test_refused_school_listings_fall_back_to_the_global_ones(box, how, reason):
    box.set_faults(refuse_listings=["schools/*/students", "schools/*/teachers"], refuse_how=how)
    people, notices = read(box)
    assert people == truth(box)
    sid = box.data.school_ids[1]
    assert notices == [
        f"Students were read from the SIS's students listing, filtered to this school's people, because "
        f"schools/{sid}/students {reason}.",
        f"Teachers were read from the SIS's teachers listing, filtered to this school's people, because "
        f"schools/{sid}/teachers {reason}."]


def test_without_global_students_and_teachers_the_users_listing_is_filtered(box):
    box.set_faults(refuse_listings=["schools/*/students", "schools/*/teachers", "students", "teachers"],
                   refuse_how="missing")
    people, notices = read(box)
    assert people == truth(box)
    assert notices[0].startswith("Students were read from the SIS's users listing") and "; students is not " \
        "offered by this SIS (HTTP 404)" in notices[0]


def test_a_token_without_roster_readonly_goes_straight_to_the_global_listings(box):
    box.set_faults(scopes_granted=[CORE_SCOPE])
    people, notices = read(box, roles={"student"})
    assert people == truth(box, roles={"student"})
    assert notices == [f"Students were read from the SIS's students listing, filtered to this school's people, "
                       f"because schools/{box.data.school_ids[1]}/students needs roster.readonly, which the token "
                       "does not grant."]


def test_when_every_listing_is_refused_the_first_refusal_is_raised(box):
    box.set_faults(refuse_listings=["schools/*/students", "students", "users"], refuse_how="forbidden")
    with pytest.raises(PermissionDenied) as caught:
        read(box, roles={"student"})
    assert "insufficient_scope" in caught.value.message and "roster.readonly" in caught.value.message
    assert f"schools/{box.data.school_ids[1]}/students" in caught.value.url


def test_a_wrong_school_id_through_a_fallback_stops_instead_of_finding_nobody():
    with running_sandbox("oneroster", schools=2, students=20, seed=5) as box:  # the generic form takes any School ID
        box.set_faults(refuse_listings=["schools/*/students"], refuse_how="missing")
        wrong = dataclasses.replace(box.settings(), school_id="school-999")
        with pytest.raises(NotFound, match="None of the 20 people in the SIS's students listing are students "
                                           "of school school-999, so the sync stopped"):
            read(box, roles={"student"}, settings=wrong)


def test_a_users_fallback_without_any_of_the_schools_teachers_stops_instead_of_archiving_them():
    with running_sandbox("oneroster", schools=2, students=20, seed=5) as box:
        box.set_faults(refuse_listings=["schools/*/teachers", "teachers"], refuse_how="forbidden")
        with box.data.lock:  # the users listing this client may read holds no teachers at all
            for record in box.data.users.values():
                if record["role"] == "teacher":
                    record["role"] = "aide"
            box.data.changed(list(box.data.users))
        with pytest.raises(NotFound, match="are teachers of school school-001, so the sync stopped instead of "
                                           "treating all of this school's teachers as gone"):
            read(box, roles={"teacher"}, school_index=0)


def test_a_listing_failing_after_its_first_page_is_an_error_not_a_fallback(box):
    box.set_faults(error_500={"path": "students", "page": 1, "times": 99})
    with OneRosterClient(box.settings(1), page_size=10, max_retries=0) as client, pytest.raises(Exception) as caught:
        list(client.iter_roster(box.settings(1).school_id, {"student"}))
    assert "server error" in str(caught.value)


def test_a_school_listing_that_ignores_its_school_falls_back_to_the_global_one_filtered(box):
    # The district's people came in as this school's: every one of them was put into the school.
    box.set_faults(scope_ignored=["schools/*/students", "schools/*/teachers"])
    people, notices = read(box)
    assert people == truth(box)
    sid = box.data.school_ids[1]
    assert [n.split(" because ")[0] for n in notices] == [
        "Students were read from the SIS's students listing, filtered to this school's people,",
        "Teachers were read from the SIS's teachers listing, filtered to this school's people,"]
    assert all(f"schools/{sid}/" in n and "returned people of other schools for this school's listing" in n
               for n in notices)


def test_a_school_listing_that_ignores_its_school_only_past_page_one_stops_the_read(box):
    box.set_faults(scope_ignored=["schools/*/students"], scope_ignored_from=1)
    with pytest.raises(BadResponse) as caught:
        read(box, roles={"student"})
    sid = box.data.school_ids[1]
    assert caught.value.message.startswith(f"Page 2 of the SIS's schools/{sid}/students listing was mostly people "
                                           "of other schools")
    assert "cannot be trusted whole and the sync stopped" in caught.value.message


def test_a_few_strays_in_a_school_listing_are_left_out_with_one_notice_saying_how_many():
    # A school listing that is mostly right but carries people whose orgs name only other schools.
    ours = [user(f"s{n}") for n in range(5)]
    strays = [user(f"x{n}", orgs=[{"sourcedId": "sch9", "type": "org"}]) for n in range(2)]
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{DATA}/schools/sch1/students", json={"users": ours[:3] + strays + ours[3:]})
        rsps.add(responses.GET, f"{DATA}/schools", json={"orgs": SCHOOLS})
        with OneRosterClient(make_settings(), page_size=100) as client:
            items = [i for page in client.iter_roster("sch1", {"student"}) for i in page]
    assert sorted(i.source_id for i in items if isinstance(i, PersonRecord)) == [f"s{n}" for n in range(5)]
    assert [i.message for i in items if isinstance(i, RosterNotice)] == [
        "2 people in the SIS's schools/sch1/students listing were not of this school (their orgs name only other "
        "schools), so they were left out: the SIS returned people of other schools for this school's students. "
        "Ask the SIS vendor why that listing includes them."]


def _school_listing(records, roles=("student",)):
    """What the client reads of sch1 when its students listing sends `records`, and the requests it made."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
        rsps.add(responses.GET, f"{DATA}/schools/sch1/students", json={"users": records})
        rsps.add(responses.GET, f"{DATA}/students", json={"users": records})
        rsps.add(responses.GET, f"{DATA}/schools", json={"orgs": SCHOOLS + [
            {"sourcedId": "dist1", "status": "active", "name": "Demo Unified", "type": "district"}]})
        with OneRosterClient(make_settings(), page_size=100) as client:
            items = [i for page in client.iter_roster("sch1", set(roles)) for i in page]
        paths = [call.request.url.split("?")[0].rsplit("/v1p1/", 1)[1] for call in rsps.calls[1:]
                 if "offset=0" in call.request.url]  # each listing read, not each of its pages
    return items, paths


def test_people_whose_orgs_name_only_the_district_are_not_strays():
    # An itinerant teacher, or a SIS that names the district in orgs: read as another school's, they were left out of
    # a right listing (then archived), and a listing of only them failed over to a global one that found nobody.
    district = [user(f"d{n}", orgs=[{"sourcedId": "dist1", "type": "org"}]) for n in range(4)]
    items, paths = _school_listing(district)
    assert sorted(i.source_id for i in items if isinstance(i, PersonRecord)) == ["d0", "d1", "d2", "d3"]
    assert not [i for i in items if isinstance(i, RosterNotice)]
    assert paths == ["schools/sch1/students", "schools"]  # the SIS's schools read once, no fallback

    items, _ = _school_listing([user("s1"), *district[:2], user("x1", orgs=[{"sourcedId": "sch9", "type": "org"}])])
    assert sorted(i.source_id for i in items if isinstance(i, PersonRecord)) == ["d0", "d1", "s1"]
    assert [i.message.split(" (")[0] for i in items if isinstance(i, RosterNotice)] == [
        "1 person in the SIS's schools/sch1/students listing was not of this school"]


def test_a_school_listing_of_its_own_people_reads_no_schools():
    items, paths = _school_listing([user("s1"), user("s2")])
    assert paths == ["schools/sch1/students"] and len(items) == 2
