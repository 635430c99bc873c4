"""The whole url_map, every method each route answers: who may call it and with whose ids. A route added later is
covered without editing these tests, except one that names neither a school nor a district: it must be listed in
access_world.PUBLIC or SIGNED_IN, on purpose."""
import pytest

from store.db import db
from store.models import BlackoutPeriod, Person, RosterBundle, Source, SyncRun
from tests.factories import PASSWORD, make_person
from tests.portal.access_world import (HX, ID_ARGS, PUBLIC, SCOPES, SIGNED_IN, call, id_key, manager_routes, own_ids,
                                       routes, scoped, token_of, url_of, world)  # noqa: F401 (world: the fixture)


def test_every_route_names_a_school_or_a_district_or_is_listed_on_purpose(app):
    unlisted = [rule.rule for rule in app.url_map.iter_rules()
                if not set(SCOPES) & rule.arguments and rule.endpoint not in PUBLIC | SIGNED_IN]
    assert unlisted == [], ("A route that names no school or district must be added to PUBLIC or SIGNED_IN here, "
                            "with the check it makes: " + ", ".join(unlisted))
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert (PUBLIC | SIGNED_IN) <= endpoints, "a listed route no longer exists: take it off the list"
    assert len(scoped(app)) >= 60


def test_a_signed_out_visitor_is_sent_to_sign_in_on_every_route_and_method(app, client, world):
    token = token_of(client)
    checked = 0
    for route in routes(app):
        if route[0].endpoint in PUBLIC:
            continue
        for headers in (None, HX):
            response = call(client, route, world["home_ids"], data={"csrf_token": token}, headers=headers)
            bounced = response.headers.get("Location", "") + response.headers.get("HX-Redirect", "")
            assert response.status_code in (302, 401) and "/login" in bounced, (route, response.status_code)
            checked += 1
    assert checked >= 120


@pytest.mark.parametrize("who, scope, theirs", [
    ("owner", "home", "foreign"), ("owner", "home", "sibling"),  # another district's rows, the sibling school's
    ("dm", "home", "foreign"), ("dm", "home", "sibling"), ("dm", "sibling", "home")])  # the DM manages both A's
def test_another_schools_ids_in_the_address_are_404_and_change_nothing(app, client, auth, world, who, scope, theirs):
    """A rightful manager on their own school's (district's) address, with one id of another school's rows in it:
    district B's, or the other school's of district A (a District Manager manages it, but not at this address)."""
    auth.login(world[who].email)
    own = own_ids(app, world, who, scope)
    own.setdefault("source_id", world["home_ids"]["source_id"])
    starter = {"foreign": "foreign_dm", "sibling": "sibling_owner", "home": "owner"}[theirs]
    foreign = own_ids(app, world, starter, theirs)
    if theirs != "foreign":  # district A's own sources are this District Manager's; its school bundles are not
        foreign = {**foreign, "source_bundle_id": foreign["bundle_id"]}
        foreign.pop("source_id", None)
        foreign.pop("csv_source_id", None)
    token = token_of(client)
    checked = 0
    data = {"csrf_token": token, "trigger": "preview", "confirmed": "on", "confirm_archive": "on"}
    for route in scoped(app):
        for name in set(ID_ARGS) & route[0].arguments:
            key = id_key(route[0], name)
            if key not in foreign:
                continue
            answer = call(client, route, {**own, key: foreign[key]}, data=data, headers=HX)
            missing = call(client, route, {**own, key: "n" * 24 if name == "check_id" else 999999}, data=data,
                           headers=HX)
            expected = 403 if who == "owner" and route[0].endpoint.startswith("sources.") else 404
            # Another district's row answers exactly as no such row: 404, or the page's own "no longer exists"
            assert (answer.status_code, answer.headers.get("Location")) == (
                missing.status_code, missing.headers.get("Location")), (route, name)
            assert answer.status_code in (expected, 302), (route, name, answer.status_code)
            checked += 1
    assert checked >= (30 if theirs == "foreign" else 15)
    ids = world[f"{theirs}_ids"]
    assert db.session.get(SyncRun, ids["run_id"]).status == "needs_review"
    assert db.session.get(Person, ids["person_id"]).status == "active"
    assert db.session.get(BlackoutPeriod, ids["period_id"]) is not None
    assert db.session.get(RosterBundle, ids["bundle_id"]) is not None
    assert db.session.get(Source, world["foreign_ids"]["source_id"]) is not None


def test_a_schools_bundle_is_not_a_district_sources_bundle(app, client, auth, world):
    """The District Manager of A on source A's bundle addresses with the id of a school's own bundle in A."""
    auth.login(world["dm"].email)
    values = {**world["home_ids"], "source_bundle_id": world["home_ids"]["bundle_id"]}
    for route in scoped(app):
        if route[0].endpoint.startswith("sources.") and "bundle_id" in route[0].arguments:
            assert call(client, route, values, data={"csrf_token": token_of(client)}).status_code == 404, route


@pytest.mark.parametrize("who", ["foreign_dm", "foreign_owner"])
def test_another_districts_manager_or_owner_is_404_on_every_route_and_method(app, client, auth, world, who):
    auth.login(world[who].email)
    own = own_ids(app, world, who, "foreign")
    token = token_of(client)
    for route in scoped(app):
        values = {**world["home_ids"], "check_id": own["check_id"]}
        response = call(client, route, values, data={"csrf_token": token}, headers=HX)
        expected = (403,) if who == "foreign_owner" and route[0].endpoint.startswith("sources.") else (404,)
        if who == "foreign_owner" and route[0].endpoint == "status.night_emails":
            expected = (403,)
        assert response.status_code in expected, (route, response.status_code)


def test_a_school_id_of_another_district_in_the_form_is_404(app, client, auth, world):
    auth.login(world["dm"].email)
    token = token_of(client)
    base = f"/districts/{world['a'].id}/sources/{world['home_ids']['source_id']}"
    for action in ("mappings", "unmap", "add-school"):
        response = client.post(f"{base}/{action}", data={"csrf_token": token, "school_id": world["foreign"].id,
                                                          "sis_school_id": "5", "sis_name": "X"}, headers=HX)
        assert response.status_code in (404, 422), (action, response.status_code)
        assert world["foreign"].name not in response.get_data(as_text=True)


@pytest.mark.parametrize("who", ["owner", "dm"])
def test_every_post_without_a_csrf_token_is_refused_and_changes_nothing(app, client, auth, world, who):
    auth.login(world[who].email)
    ids = own_ids(app, world, who)
    posts = [r for r in manager_routes(app, world, who) if r[1] == "POST"]
    posts += [r for r in routes(app) if r[0].endpoint in ("auth.logout", "auth.sign_out_everywhere")]
    assert len(posts) >= 20
    for route in posts:
        for headers in (None, HX):
            response = call(client, route, ids, data={"trigger": "manual", "confirmed": "on"}, headers=headers)
            assert response.status_code == 400, (route, response.status_code)
    assert db.session.get(SyncRun, ids["run_id"]).status == "needs_review"
    assert db.session.get(Person, ids["person_id"]).status == "active"
    assert client.get("/", follow_redirects=True).status_code == 200  # still signed in


def test_a_method_a_route_does_not_answer_is_405_with_the_error_page(app, client, auth, world):
    auth.login(world["dm"].email)
    token = token_of(client)
    answered = {}  # one address can be two rules (GET and POST of /runs): the methods of all of them
    for rule in app.url_map.iter_rules():
        answered.setdefault(url_of(rule, world["home_ids"]), set()).update(rule.methods)
    assert len(answered) >= 50
    for url, methods in answered.items():
        for method in {"GET", "POST", "PUT", "DELETE", "PATCH"} - methods:
            response = client.open(url, method=method, data={"csrf_token": token})
            assert response.status_code == 405, (url, method, response.status_code)
            assert "That action is not available here." in response.get_data(as_text=True), (url, method)


def test_another_districts_ids_in_the_query_string_are_not_shown(app, client, auth, world):
    """`?test=` (a connection test to show) and `?source=` (the source whose saved values fill the form)."""
    theirs = own_ids(app, world, "foreign_dm", "foreign")
    auth.login(world["dm"].email)
    page = client.get(f"/schools/home-school/rostering?test={theirs['check_id']}")
    none = client.get("/schools/home-school/rostering?test=" + "n" * 24)
    assert (page.status_code, page.get_data(as_text=True)) == (200, none.get_data(as_text=True))
    mine = client.get(f"/schools/home-school/rostering?test={own_ids(app, world, 'dm')['check_id']}")
    assert mine.get_data(as_text=True) != none.get_data(as_text=True)  # their own test is shown
    base = f"/districts/{world['a'].id}/sources"
    for path in ("vendor-fields", "method-form"):
        for source in (theirs["source_id"], theirs["csv_source_id"]):
            response = client.get(f"{base}/{path}?source={source}&vendor=aeries", headers=HX)
            assert response.status_code == 404, (path, response.status_code)


@pytest.mark.parametrize("role", ["teacher", "staff", "student", "school_admin"])
def test_other_roles_of_the_school_get_403_on_every_route_and_method(app, client, auth, world, role):
    auth.login(make_person(world["home"], role=role, password=PASSWORD).email)
    token = token_of(client)
    for route in scoped(app) + [r for r in routes(app) if r[0].endpoint in ("main.index", "status.mine")]:
        response = call(client, route, world["home_ids"], data={"csrf_token": token}, headers=HX)
        assert response.status_code == 403, (route, response.status_code)


def _snapshot() -> dict:
    """Every row of every table (the world is small)."""
    return {table.name: sorted(map(repr, db.session.execute(table.select()).all()))
            for table in db.metadata.sorted_tables}


@pytest.mark.parametrize("who", ["owner", "dm"])
def test_no_get_changes_anything(app, client, auth, world, who):
    """Every state change is a POST with CSRF: a link, a prefetch or an image pointing at any GET changes nothing."""
    auth.login(world[who].email)
    ids = own_ids(app, world, who)
    db.session.expire_all()
    before = _snapshot()
    gets = [r for r in manager_routes(app, world, who) if r[1] == "GET"]
    for route in gets:
        for headers in (None, HX):
            call(client, route, ids, query="?trigger=manual&confirmed=yes&method=oneroster_csv", headers=headers)
    db.session.expire_all()
    after = _snapshot()
    changed = {name for name in before if before[name] != after[name]} - {"sign_in_session"}
    assert changed == set(), changed
    assert len(gets) >= 15


def test_a_signed_out_post_without_a_csrf_token_is_refused(app, client, world):
    """Sign-in and reset too: a form posted from another site cannot sign a visitor in to the attacker's account."""
    posts = [r for r in routes(app) if r[1] == "POST" and r[0].endpoint in PUBLIC]
    assert len(posts) >= 3
    for route in posts:
        response = call(client, route, {"token": "x"}, data={"email": world["owner"].email, "password": "x"})
        assert response.status_code == 400, (route, response.status_code)
        assert "did not come from this portal" in response.get_data(as_text=True), route
