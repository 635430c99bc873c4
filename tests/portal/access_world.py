"""The world and the helpers of the url_map-wide access tests (test_access_routes.py, test_access_input.py): two
districts with every kind of row an address or a form names, and a call of any route with any world's ids."""
from datetime import date

import pytest

from connectors.settings import ConnectionSettings
from jobs import check_records, source_checks
from portal.sftp import accounts as sftp_accounts
from store.db import db
from store.models import RosterBundle, Source
from tests.factories import (make_bundle, make_connection, make_district, make_district_manager, make_owner,
                             make_pause, make_person, make_run, make_school, make_source)
from tests.support import csrf_token

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


def url_of(rule, values, query=""):
    url = rule.build({name: values.get(name, 1) for name in rule.arguments}, append_unknown=False)[1]
    return url + query


def is_source_bundle_route(rule) -> bool:
    return rule.endpoint.startswith("sources.") and "bundle_id" in rule.arguments


def id_key(rule, name) -> str:
    """Which id of a world's ids fills `name`: a Sources bundle address takes the CSV source and its bundle."""
    if is_source_bundle_route(rule) and name in ("source_id", "bundle_id"):
        return {"source_id": "csv_source_id", "bundle_id": "source_bundle_id"}[name]
    if rule.endpoint.startswith("sources.") and name == "check_id":
        return "source_check_id"
    return name


def call(client, route, values, data=None, query="", headers=None):
    rule, method = route
    values = {name: values.get(id_key(rule, name), values.get(name, 1)) for name in rule.arguments}
    url = url_of(rule, values, query)
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


def own_ids(app, w, who, scope="home"):
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


def token_of(client):
    return csrf_token(client, "/login")


def manager_routes(app, world, who):
    """Routes a rightful manager may call: an owner is not on district Sources pages."""
    for route in scoped(app) + [r for r in routes(app) if r[0].endpoint in SIGNED_IN]:
        if who == "owner" and route[0].endpoint.startswith("sources."):
            continue
        if route[0].endpoint in ("auth.logout", "auth.sign_out_everywhere"):
            continue  # would end the session the rest of the test needs
        yield route


def forbidden_for(app, world, who) -> list[str]:
    """What no page may show this manager: the stored SIS secrets, the keys, SFTP password hashes, district B's
    names (and, to an owner, the sibling school's)."""
    hashes = [a.password_hash for a in db.session.scalars(db.select(sftp_accounts.SftpAccount))]
    forbidden = [*SECRETS, app.config["PORTAL_FERNET_KEYS"], app.config["SECRET_KEY"], *hashes,
                 world["foreign"].name, world["b"].name, "Foreignkid"]
    if who == "owner":
        forbidden += [world["sibling"].name, "Siblingkid"]
    return forbidden


def assert_carries_none(text, forbidden, where) -> None:
    for value in forbidden:
        assert value not in text, (where, value)


def session_text(app, client) -> str:
    """What the browser's session cookie holds, readable (Flask signs it, but anyone can read it): flashed messages
    ride in it, so a secret in one would leak there."""
    cookie = client.get_cookie("session")
    if cookie is None:
        return ""
    return repr(app.session_interface.get_signing_serializer(app).loads(cookie.value))
