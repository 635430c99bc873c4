"""Refused school-scoped listings fall back to global ones filtered by the person's orgs (sandbox, real HTTP)."""
import dataclasses

import pytest

from connectors.client import OneRosterClient
from connectors.errors import NotFound, PermissionDenied
from connectors.records import PersonRecord, RosterNotice
from connectors.settings import CORE_SCOPE
from tests.support import running_sandbox, sandbox_fixture

from connector_helpers import EACH_VENDOR

ROLES = {"student", "teacher", "staff", "school_admin", "parent"}


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
