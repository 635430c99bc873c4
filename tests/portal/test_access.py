"""Every school route x every role: anonymous, wrong role, other school/district, and the rightful managers."""
from datetime import date

import pytest

from connectors.settings import ConnectionSettings
from jobs import check_records
from store.db import db
from tests.factories import (PASSWORD, make_bundle, make_district, make_district_manager, make_owner, make_pause,
                             make_person, make_run, make_school)
from tests.support import assert_served_signed_in, csrf_token

pytestmark = pytest.mark.smoke


def school_routes(app):
    """Every route with a <slug> (later issues' routes are covered automatically)."""
    for rule in app.url_map.iter_rules():
        if "slug" in rule.arguments:
            yield rule


def _url(rule, slug, **ids):
    """The rule's URL for `slug`; ids it does not name are 1 (no such row)."""
    values = {**{name: 1 for name in rule.arguments}, **ids, "slug": slug}
    return rule.build(values, append_unknown=False)[1]


def _method(rule):
    return "GET" if "GET" in rule.methods else sorted(rule.methods - {"OPTIONS", "HEAD"})[0]


@pytest.fixture
def world(app):
    district = make_district()
    school = make_school(district, slug="home-school")
    sibling = make_school(district, slug="sibling-school")
    other_district = make_district()
    foreign = make_school(other_district, slug="foreign-school")
    return {
        "school": school, "sibling": sibling, "foreign": foreign,
        "owner": make_owner(school), "sibling_owner": make_owner(sibling),
        "dm": make_district_manager(district), "foreign_dm": make_district_manager(other_district),
        "teacher": make_person(school, role="teacher", password=PASSWORD),
        "staff": make_person(school, role="staff", password=PASSWORD),
        "student": make_person(school, role="student", password=PASSWORD),
        "school_admin": make_person(school, role="school_admin", password=PASSWORD),
    }


def _request(client, rule, slug, **ids):
    url = _url(rule, slug, **ids)
    method = _method(rule)
    if method == "GET":
        return client.get(url)
    return client.open(url, method=method, data={"csrf_token": csrf_token(client, "/login")})


def test_there_are_school_routes_to_check(app):
    assert any(rule.endpoint == "people.index" for rule in school_routes(app))


def test_anonymous_is_sent_to_sign_in(app, client, world):
    for rule in school_routes(app):
        response = _request(client, rule, "home-school")
        assert response.status_code in (302, 400), rule.endpoint
        if _method(rule) == "GET":
            assert "/login" in response.headers["Location"], rule.endpoint


@pytest.mark.parametrize("who", ["teacher", "staff", "student", "school_admin"])
def test_other_roles_get_403(app, client, auth, world, who):
    auth.login(world[who].email)
    for rule in school_routes(app):
        assert _request(client, rule, "home-school").status_code == 403, rule.endpoint


@pytest.mark.parametrize("who, slug", [
    ("sibling_owner", "home-school"),   # owner of another school in the same district
    ("foreign_dm", "home-school"),      # district manager of another district
    ("owner", "no-such-school"),        # unknown slug looks the same as someone else's
])
def test_other_school_or_district_gets_404(app, client, auth, world, who, slug):
    auth.login(world[who].email)
    for rule in school_routes(app):
        assert _request(client, rule, slug).status_code == 404, rule.endpoint


@pytest.mark.parametrize("who, slug", [("owner", "home-school"), ("dm", "home-school"), ("dm", "sibling-school")])
def test_owner_and_district_manager_get_the_people_page(client, auth, world, who, slug):
    auth.login(world[who].email)
    response = client.get(f"/schools/{slug}/people")
    assert response.status_code == 200
    assert "People Manager" in response.get_data(as_text=True)


@pytest.mark.parametrize("who, slug", [("owner", "home-school"), ("dm", "home-school"), ("dm", "sibling-school")])
def test_rightful_managers_are_served_on_every_school_route(app, client, auth, world, who, slug, tmp_path):
    """Never redirected to sign-in, never refused: each school route serves the school's owner and every
    district manager of its district, with ids of that school's own rows."""
    school = world["school"] if slug == "home-school" else world["sibling"]
    manager = world[who]
    test = check_records.new_test(manager.id, school.id, ConnectionSettings(
        vendor="oneroster", base_url="https://sis.example.org", token_urls=("https://sis.example.org/token",),
        client_id="c", client_secret="s", school_id="1"))
    check_records.save(app.redis, test)  # a connection test this manager started for this school
    ids = dict(person_id=make_person(school).id, run_id=make_run(school, status="succeeded").id,
               period_id=make_pause(school, date(2030, 1, 1), date(2030, 1, 2)).id, action="exclude",
               check_id=test.check_id, bundle_id=make_bundle(school, stored_path=str(tmp_path / "b.zip")).id)
    (tmp_path / "b.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip, kept as received
    auth.login(manager.email)
    routes = list(school_routes(app))
    for rule in routes:
        assert_served_signed_in(_request(client, rule, slug, **ids), rule.endpoint)
    assert len(routes) >= 15
    home = client.get("/", follow_redirects=True)
    assert home.status_code == 200 and school.name in home.get_data(as_text=True)  # still signed in after all


def test_district_manager_sees_every_school_of_the_district(client, auth, world):
    auth.login(world["dm"].email)
    page = client.get("/").get_data(as_text=True)
    assert world["school"].name in page and world["sibling"].name in page
    assert world["foreign"].name not in page


def test_teacher_home_is_forbidden_with_a_clear_message(client, auth, world):
    auth.login(world["teacher"].email)
    response = client.get("/")
    assert response.status_code == 403
    assert "Owners and District Managers" in response.get_data(as_text=True)


def test_archived_owner_cannot_manage(client, auth, world):
    world["owner"].status = "archived"
    db.session.commit()
    assert auth.login(world["owner"].email).status_code == 401
