"""The whole url_map, every method each route answers: who may call it, with whose ids, what a bad request gets,
and what no response carries. A route added later is covered by these tests without editing them, except a route
that names neither a school nor a district: it must be listed below as public or signed-in, on purpose."""
import logging
from datetime import date

import pytest

from jobs import check_records, source_checks
from connectors.settings import ConnectionSettings
from portal.extensions import mail
from portal.sftp import accounts as sftp_accounts
from store.db import db
from store.models import BlackoutPeriod, Person, RosterBundle, Source, SourceNight, SourceNightRun, SyncRun, utcnow
from tests.factories import (make_bundle, make_connection, make_district, make_district_audit_event,
                             make_district_manager, make_issue, make_owner, make_pause, make_person, make_run,
                             make_school, make_source, map_school)
from tests.support import assert_served_signed_in, csrf_token

# Routes without a school or district in the address, each on purpose. Everything else names a <slug> (school
# pages: school_required) or a <district_id> (district pages); a new route that does neither fails the suite.
PUBLIC = {"auth.login", "auth.request_reset", "auth.reset_password", "static"}
SIGNED_IN = {"main.index", "auth.change_password", "auth.sign_out_everywhere", "auth.logout", "status.mine"}
SCOPES = ("slug", "district_id")
ID_ARGS = ("run_id", "bundle_id", "person_id", "period_id", "source_id", "check_id")
HX = {"HX-Request": "true"}
SECRETS = ("school-client-secret-Zq81", "source-client-secret-Wp27")


def routes(app):
    """(rule, method) for every rule of the url_map and each method it answers."""
    return [(rule, method) for rule in app.url_map.iter_rules()
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]


def scoped(app):
    return [(rule, method) for rule, method in routes(app) if set(SCOPES) & rule.arguments]


def _url(rule, values, query=""):
    url = rule.build({name: values.get(name, 1) for name in rule.arguments}, append_unknown=False)[1]
    return url + query


def _source_bundle_route(rule) -> bool:
    return rule.endpoint.startswith("sources.") and "bundle_id" in rule.arguments


def _key(rule, name) -> str:
    """Which id of a world's ids fills `name`: a Sources bundle address takes the CSV source and its bundle."""
    if _source_bundle_route(rule) and name in ("source_id", "bundle_id"):
        return {"source_id": "csv_source_id", "bundle_id": "source_bundle_id"}[name]
    if rule.endpoint.startswith("sources.") and name == "check_id":
        return "source_check_id"
    return name


def call(client, route, values, data=None, query="", headers=None):
    rule, method = route
    values = {name: values.get(_key(rule, name), values.get(name, 1)) for name in rule.arguments}
    url = _url(rule, values, query)
    if method == "GET":
        return client.get(url, headers=headers)
    if isinstance(data, bytes):  # a form body as sent, such as bytes that are not UTF-8
        return client.open(url, method=method, data=data, headers=headers,
                           content_type="application/x-www-form-urlencoded")
    return client.open(url, method=method, data=data if data is not None else {}, headers=headers)


@pytest.fixture
def world(app, tmp_path):
    """District A (home and sibling schools, their owners and a District Manager) and district B (a foreign school
    with every kind of row a URL or form names), each school with a connection, a run, a bundle, a pause."""
    a, b = make_district(name="Alder Unified"), make_district(name="Birch County")
    home = make_school(a, name="Home High", slug="home-school")
    sibling = make_school(a, name="Sibling Middle", slug="sibling-school")
    foreign = make_school(b, name="Faraway Elementary", slug="foreign-school")
    w = {"a": a, "b": b, "home": home, "sibling": sibling, "foreign": foreign,
         "owner": make_owner(home), "sibling_owner": make_owner(sibling), "dm": make_district_manager(a),
         "foreign_owner": make_owner(foreign), "foreign_dm": make_district_manager(b)}
    for name in ("home", "sibling", "foreign"):
        school = w[name]
        make_connection(school, secret=SECRETS[0], client_id=f"{name}-client")
        zipped = tmp_path / f"{name}.zip"
        zipped.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip, kept as received
        w[f"{name}_ids"] = {
            "slug": school.slug, "district_id": school.district_id,
            "run_id": make_run(school, status="needs_review").id,
            "bundle_id": make_bundle(school, stored_path=str(zipped)).id,
            "person_id": make_person(school, given_name=f"{name.title()}kid").id,
            "period_id": make_pause(school, date(2030, 1, 1), date(2030, 1, 2)).id, "action": "archive"}
    for name, district in (("home", a), ("foreign", b)):
        source = make_source(district, secret=SECRETS[1], name=f"{district.name} SIS")
        csv_source = make_source(district, secret="", name=f"{district.name} CSV", method="csv", vendor="oneroster",
                                 url="", client_id="")
        zipped = tmp_path / f"{name}-source.zip"
        zipped.write_bytes(b"PK\x05\x06" + bytes(18))
        bundle = RosterBundle(source_id=csv_source.id, via="upload", filename="district.zip", stored_path=str(zipped),
                              size=22, status="valid", users_mode="bulk", version="1.1")
        db.session.add(bundle)
        db.session.commit()
        w[f"{name}_ids"].update(source_id=source.id, csv_source_id=csv_source.id, source_bundle_id=bundle.id)
    sftp_accounts.create_account(home, w["owner"])
    sftp_accounts.create_account(foreign, w["foreign_owner"])
    db.session.commit()
    return w


def _own_ids(app, w, who, scope="home"):
    """The ids of `scope`'s own rows for `who`, with a connection test and a source test of their own."""
    ids = dict(w[f"{scope}_ids"])
    school = w[scope]
    test_settings = ConnectionSettings(
        vendor="oneroster", base_url="https://sis.example.org", token_urls=("https://sis.example.org/token",),
        client_id="c", client_secret="s", school_id="1")
    test = check_records.new_test(w[who].id, school.id, test_settings)
    check_records.save(app.redis, test)
    ids["check_id"] = test.check_id
    if w[who].role == "district_manager":  # and a test of the district's source
        source = db.session.get(Source, w["foreign_ids" if scope == "foreign" else "home_ids"]["source_id"])
        source_test = source_checks.new_test(w[who].id, source, test_settings)
        source_checks.save(app.redis, source_test)
        ids["source_check_id"] = source_test.check_id
    return ids


def _token(client):
    return csrf_token(client, "/login")


def test_every_route_names_a_school_or_a_district_or_is_listed_on_purpose(app):
    unlisted = [rule.rule for rule in app.url_map.iter_rules()
                if not set(SCOPES) & rule.arguments and rule.endpoint not in PUBLIC | SIGNED_IN]
    assert unlisted == [], ("A route that names no school or district must be added to PUBLIC or SIGNED_IN here, "
                            "with the check it makes: " + ", ".join(unlisted))
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert (PUBLIC | SIGNED_IN) <= endpoints, "a listed route no longer exists: take it off the list"
    assert len(scoped(app)) >= 60


def test_a_signed_out_visitor_is_sent_to_sign_in_on_every_route_and_method(app, client, world):
    token = _token(client)
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
    own = _own_ids(app, world, who, scope)
    own.setdefault("source_id", world["home_ids"]["source_id"])
    starter = {"foreign": "foreign_dm", "sibling": "sibling_owner", "home": "owner"}[theirs]
    foreign = _own_ids(app, world, starter, theirs)
    if theirs != "foreign":  # district A's own sources are this District Manager's; its school bundles are not
        foreign = {**foreign, "source_bundle_id": foreign["bundle_id"]}
        foreign.pop("source_id", None)
        foreign.pop("csv_source_id", None)
    token = _token(client)
    checked = 0
    data = {"csrf_token": token, "trigger": "preview", "confirmed": "on", "confirm_archive": "on"}
    for route in scoped(app):
        for name in set(ID_ARGS) & route[0].arguments:
            key = _key(route[0], name)
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
            assert call(client, route, values, data={"csrf_token": _token(client)}).status_code == 404, route


@pytest.mark.parametrize("who", ["foreign_dm", "foreign_owner"])
def test_another_districts_manager_or_owner_is_404_on_every_route_and_method(app, client, auth, world, who):
    auth.login(world[who].email)
    own = _own_ids(app, world, who, "foreign")
    token = _token(client)
    for route in scoped(app):
        values = {**world["home_ids"], "check_id": own["check_id"]}
        response = call(client, route, values, data={"csrf_token": token}, headers=HX)
        expected = (403,) if who == "foreign_owner" and route[0].endpoint.startswith("sources.") else (404,)
        if who == "foreign_owner" and route[0].endpoint == "status.night_emails":
            expected = (403,)
        assert response.status_code in expected, (route, response.status_code)


def test_a_school_id_of_another_district_in_the_form_is_404(app, client, auth, world):
    auth.login(world["dm"].email)
    token = _token(client)
    base = f"/districts/{world['a'].id}/sources/{world['home_ids']['source_id']}"
    for action in ("mappings", "unmap", "add-school"):
        response = client.post(f"{base}/{action}", data={"csrf_token": token, "school_id": world["foreign"].id,
                                                          "sis_school_id": "5", "sis_name": "X"}, headers=HX)
        assert response.status_code in (404, 422), (action, response.status_code)
        assert world["foreign"].name not in response.get_data(as_text=True)


def _manager_routes(app, world, who):
    """Routes a rightful manager may call: an owner is not on district Sources pages."""
    for route in scoped(app) + [r for r in routes(app) if r[0].endpoint in SIGNED_IN]:
        if who == "owner" and route[0].endpoint.startswith("sources."):
            continue
        if route[0].endpoint in ("auth.logout", "auth.sign_out_everywhere"):
            continue  # would end the session the rest of the test needs
        yield route


@pytest.mark.parametrize("who", ["owner", "dm"])
def test_every_post_without_a_csrf_token_is_refused_and_changes_nothing(app, client, auth, world, who):
    auth.login(world[who].email)
    ids = _own_ids(app, world, who)
    posts = [r for r in _manager_routes(app, world, who) if r[1] == "POST"]
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
    token = _token(client)
    answered = {}  # one address can be two rules (GET and POST of /runs): the methods of all of them
    for rule in app.url_map.iter_rules():
        answered.setdefault(_url(rule, world["home_ids"]), set()).update(rule.methods)
    assert len(answered) >= 50
    for url, methods in answered.items():
        for method in {"GET", "POST", "PUT", "DELETE", "PATCH"} - methods:
            response = client.open(url, method=method, data={"csrf_token": token})
            assert response.status_code == 405, (url, method, response.status_code)
            assert "That action is not available here." in response.get_data(as_text=True), (url, method)


# Every name a form or query string of the portal reads, and values no browser sends.
FIELDS = ("q", "page", "role", "status", "method", "vendor", "source", "test", "prefill", "next", "issues_page",
          "changes_page", "skips_page", "trigger", "school_id", "sis_school_id", "sis_name", "source_id", "name",
          "url", "client_id", "client_secret", "app_name", "token_url", "auth_mode", "sync_time", "automatic",
          "archive_threshold_percent", "threshold_override", "confirm", "confirmed", "confirm_archive",
          "authorized_keys", "night_emails", "report_opt_in", "csv_sync_on_receipt", "starts_on", "ends_on", "note",
          "email", "password", "current_password", "new_password", "confirm_password")
HOSTILE = {"nul": "a\x00b", "huge": "9" * 20_000, "negative": "-1", "past_int": "99999999999999999999",
           "script": "<script>x</script>", "spaces": "  "}
HOSTILE_BODIES = {"invalid_utf8": "%ff%fe", "raw_invalid_utf8": "\udcff"}
HOSTILE_QUERIES = {"invalid_utf8": "%ff%fe%00", "nul": "%00", "negative": "-5", "huge": "9" * 5000}


def _hostile_form(kind, token):
    """Every field set to the hostile value; the body's bytes as sent for the kinds that are not valid UTF-8."""
    if kind not in HOSTILE_BODIES:
        return {**{name: HOSTILE[kind] for name in FIELDS}, "csrf_token": token}
    value = HOSTILE_BODIES[kind].encode("utf-8", "surrogateescape")
    return b"&".join([name.encode() + b"=" + value for name in FIELDS] + [b"csrf_token=" + token.encode()])


@pytest.mark.parametrize("who", ["owner", "dm"])
@pytest.mark.parametrize("kind", sorted(HOSTILE) + sorted(HOSTILE_BODIES))
def test_hostile_form_values_never_get_a_500_nor_a_secret_back(app, client, auth, world, who, kind, caplog):
    caplog.set_level(logging.DEBUG)
    auth.login(world[who].email)
    ids = _own_ids(app, world, who)
    token = _token(client)
    forbidden = _forbidden(app, world, who)
    with mail.record_messages() as outbox:
        for route in _manager_routes(app, world, who):
            if route[1] != "POST":
                continue
            response = call(client, route, ids, data=_hostile_form(kind, token), headers=HX)
            assert response.status_code < 500, (route, kind, response.status_code)
            _assert_carries_none(response.get_data(as_text=True) + str(response.headers), forbidden, route)
    for message in outbox:
        _assert_carries_none(f"{message.subject}{message.body}{message.html}", forbidden, message.subject)
    _assert_carries_none(caplog.text, forbidden, "log")


@pytest.mark.parametrize("who", ["owner", "dm"])
@pytest.mark.parametrize("kind", sorted(HOSTILE_QUERIES))
def test_hostile_query_strings_never_get_a_500(app, client, auth, world, who, kind):
    auth.login(world[who].email)
    ids = _own_ids(app, world, who)
    query = "?" + "&".join(f"{name}={HOSTILE_QUERIES[kind]}" for name in FIELDS)
    for route in _manager_routes(app, world, who):
        if route[1] == "GET":
            response = call(client, route, ids, query=query, headers=HX)
            assert response.status_code < 500, (route, kind, response.status_code)


def test_non_numeric_or_negative_ids_are_404(app, client, auth, world):
    auth.login(world["dm"].email)
    for rule in app.url_map.iter_rules():
        ints = [name for name in rule.arguments if name.endswith("_id") and name != "check_id"]
        for bad in ("abc", "-1", "1.5", "%00", "%ff"):
            path = rule.rule.replace("<slug>", "home-school").replace("<action>", "archive")
            path = path.replace("<check_id>", "x")
            for name in ints:
                path = path.replace(f"<int:{name}>", bad)
            if ints:
                method = "GET" if "GET" in rule.methods else "POST"
                assert client.open(path, method=method).status_code in (400, 404), (path,)


def _forbidden(app, world, who) -> list[str]:
    """What no page may show this manager: the stored SIS secrets, the keys, SFTP password hashes, district B's
    names (and, to an owner, the sibling school's)."""
    hashes = [a.password_hash for a in db.session.scalars(db.select(sftp_accounts.SftpAccount))]
    forbidden = [*SECRETS, app.config["PORTAL_FERNET_KEYS"], app.config["SECRET_KEY"], *hashes,
                 world["foreign"].name, world["b"].name, "Foreignkid"]
    if who == "owner":
        forbidden += [world["sibling"].name, "Siblingkid"]
    return forbidden


def _assert_carries_none(text, forbidden, where) -> None:
    for value in forbidden:
        assert value not in text, (where, value)


@pytest.mark.parametrize("who", ["owner", "dm"])
def test_no_page_carries_a_secret_or_another_districts_names(app, client, auth, world, who, caplog):
    caplog.set_level(logging.DEBUG)
    auth.login(world[who].email)
    ids = _own_ids(app, world, who)
    forbidden = _forbidden(app, world, who)
    checked = 0
    for route in _manager_routes(app, world, who):
        if route[1] != "GET":
            continue
        for headers in (None, HX):
            response = call(client, route, ids, headers=headers)
            assert_served_signed_in(response, route)  # served, so the check below reads a real page
            _assert_carries_none(response.get_data(as_text=True) + str(response.headers), forbidden, route)
            checked += 1
    _assert_carries_none(caplog.text, forbidden, "log")
    assert checked >= 40


@pytest.mark.parametrize("kind", sorted(HOSTILE) + sorted(HOSTILE_BODIES))
def test_a_signed_out_visitor_with_hostile_values_never_gets_a_500(app, client, world, kind):
    """The sign-in, reset and static addresses are the ones anybody on the internet can reach."""
    token = _token(client)
    public = [route for route in routes(app) if route[0].endpoint in PUBLIC]
    query = "?" + "&".join(f"{name}={HOSTILE_QUERIES.get(kind, '%ff%fe%00')}" for name in FIELDS)
    for route in public:
        for value in ("x", "%ff%fe", "%00", "a" * 5000):
            values = {"token": value, "filename": value}
            response = call(client, route, values, data=_hostile_form(kind, token), query=query)
            assert response.status_code < 500, (route, value, response.status_code)


def test_an_owner_on_the_districts_shared_source_never_sees_the_other_school(app, client, auth, world):
    """Home and Sibling both sync from district A's source, in one district night, with district audit entries
    naming each: every page Home's owner can open names neither Sibling, its people nor the source's secret."""
    source = db.session.get(Source, world["home_ids"]["source_id"])
    map_school(world["home"], source, "5")
    map_school(world["sibling"], source, "7")
    night = SourceNight(source_id=source.id, trigger="nightly", status="problems", started_at=utcnow())
    db.session.add(night)
    db.session.flush()
    for name in ("home", "sibling"):
        run_id = world[f"{name}_ids"]["run_id"]
        db.session.add(SourceNightRun(night_id=night.id, run_id=run_id, school_id=world[name].id))
        make_issue(db.session.get(SyncRun, run_id), message=f"{name.title()}kid has no family name", commit=False)
        make_district_audit_event(world["a"], "source_mapped", world["dm"], f"{world[name].name} mapped to {source.name}",
                                  commit=False)
    db.session.commit()
    auth.login(world["owner"].email)
    ids = _own_ids(app, world, "owner")
    forbidden = _forbidden(app, world, "owner")
    served = ""
    for route in _manager_routes(app, world, "owner"):
        if route[1] == "GET":
            response = call(client, route, ids)
            assert_served_signed_in(response, route)
            served += response.get_data(as_text=True)
            _assert_carries_none(response.get_data(as_text=True), forbidden, route)
    assert "Homekid has no family name" in served  # the owner's own school's rows are there


def test_another_districts_ids_in_the_query_string_are_not_shown(app, client, auth, world):
    """`?test=` (a connection test to show) and `?source=` (the source whose saved values fill the form)."""
    theirs = _own_ids(app, world, "foreign_dm", "foreign")
    auth.login(world["dm"].email)
    page = client.get(f"/schools/home-school/rostering?test={theirs['check_id']}")
    none = client.get("/schools/home-school/rostering?test=" + "n" * 24)
    assert (page.status_code, page.get_data(as_text=True)) == (200, none.get_data(as_text=True))
    mine = client.get(f"/schools/home-school/rostering?test={_own_ids(app, world, 'dm')['check_id']}")
    assert mine.get_data(as_text=True) != none.get_data(as_text=True)  # their own test is shown
    base = f"/districts/{world['a'].id}/sources"
    for path in ("vendor-fields", "method-form"):
        for source in (theirs["source_id"], theirs["csv_source_id"]):
            response = client.get(f"{base}/{path}?source={source}&vendor=aeries", headers=HX)
            assert response.status_code == 404, (path, response.status_code)


TYPED = "Typed-Secret-9QxZ-never-echoed"
SECRET_FIELDS = ("client_secret", "password", "current_password", "new_password", "confirm", "confirm_password")


@pytest.mark.parametrize("who", [None, "owner", "dm"])
def test_a_typed_secret_or_password_never_comes_back(app, client, auth, world, who, caplog):
    """Every POST, with a form that would otherwise pass (a wrong secret, a failing test): the answer, the log and
    any email leave out what was typed in a secret or password field."""
    caplog.set_level(logging.DEBUG)
    if who:
        auth.login(world[who].email)
    ids = _own_ids(app, world, who) if who else world["home_ids"]
    token = _token(client)
    form = {"csrf_token": token, "vendor": "aeries", "method": "oneroster", "url": "https://demo.aeries.net/aeries/",
            "client_id": "typed-id", "school_id": "5", "name": "Typed source", "sync_time": "02:00",
            "email": world["owner"].email, **{name: TYPED for name in SECRET_FIELDS}}
    posts = [r for r in (_manager_routes(app, world, who) if who else routes(app)) if r[1] == "POST"]
    with mail.record_messages() as outbox:
        for route in posts:
            for headers in (None, HX):
                response = call(client, route, ids, data=form, headers=headers)
                assert TYPED not in response.get_data(as_text=True) + str(response.headers), route
                if response.headers.get("Location", "").startswith("/") and route[0].endpoint != "auth.logout":
                    assert TYPED not in client.get(response.headers["Location"]).get_data(as_text=True), route
    assert all(TYPED not in f"{m.subject}{m.body}{m.html}" for m in outbox)
    assert TYPED not in caplog.text
