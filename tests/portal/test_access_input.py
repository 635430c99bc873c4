"""The whole url_map with what no browser sends (NUL bytes, invalid UTF-8, huge and negative numbers) and what no
answer may carry (stored or typed secrets, SFTP password hashes, keys, another school's or district's names)."""
import logging

import pytest
from sqlalchemy import text

from portal.extensions import mail
from store.db import db
from store.models import Source, SourceNight, SourceNightRun, SyncRun, utcnow
from tests.factories import make_district_audit_event, make_issue, map_school
from tests.portal.access_world import (HX, PUBLIC, assert_carries_none, call, forbidden_for, manager_routes, own_ids,
                                       routes, session_text, token_of, world)  # noqa: F401 (world: the fixture)
from tests.support import assert_served_signed_in


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
    ids = own_ids(app, world, who)
    token = token_of(client)
    forbidden = forbidden_for(app, world, who)
    with mail.record_messages() as outbox:
        for route in manager_routes(app, world, who):
            if route[1] != "POST":
                continue
            response = call(client, route, ids, data=_hostile_form(kind, token), headers=HX)
            assert response.status_code < 500, (route, kind, response.status_code)
            assert_carries_none(response.get_data(as_text=True) + str(response.headers) + session_text(app, client),
                                forbidden, route)
    for message in outbox:
        assert_carries_none(f"{message.subject}{message.body}{message.html}", forbidden, message.subject)
    assert_carries_none(caplog.text, forbidden, "log")


@pytest.mark.parametrize("who", ["owner", "dm"])
@pytest.mark.parametrize("kind", sorted(HOSTILE_QUERIES))
def test_hostile_query_strings_never_get_a_500(app, client, auth, world, who, kind):
    auth.login(world[who].email)
    ids = own_ids(app, world, who)
    query = "?" + "&".join(f"{name}={HOSTILE_QUERIES[kind]}" for name in FIELDS)
    for route in manager_routes(app, world, who):
        if route[1] == "GET":
            response = call(client, route, ids, query=query, headers=HX)
            assert response.status_code < 500, (route, kind, response.status_code)


def test_non_numeric_or_negative_ids_are_404(app, client, auth, world):
    auth.login(world["dm"].email)
    for rule in app.url_map.iter_rules():
        ints = [name for name in rule.arguments if name.endswith("_id") and name != "check_id"]
        for bad in ("abc", "-1", "1.5", "%00", "%ff", "9" * 5000):
            path = rule.rule.replace("<slug>", "home-school").replace("<action>", "archive")
            path = path.replace("<check_id>", "x")
            for name in ints:
                path = path.replace(f"<int:{name}>", bad)
            if ints:
                method = "GET" if "GET" in rule.methods else "POST"
                assert client.open(path, method=method).status_code in (400, 404), (path,)


@pytest.mark.parametrize("kind", sorted(HOSTILE) + sorted(HOSTILE_BODIES))
def test_a_signed_out_visitor_with_hostile_values_never_gets_a_500(app, client, world, kind):
    """The sign-in, reset and static addresses are the ones anybody on the internet can reach."""
    token = token_of(client)
    public = [route for route in routes(app) if route[0].endpoint in PUBLIC]
    query = "?" + "&".join(f"{name}={HOSTILE_QUERIES.get(kind, '%ff%fe%00')}" for name in FIELDS)
    for route in public:
        for value in ("x", "%ff%fe", "%00", "a" * 5000):
            values = {"token": value, "filename": value}
            response = call(client, route, values, data=_hostile_form(kind, token), query=query)
            assert response.status_code < 500, (route, value, response.status_code)


@pytest.mark.parametrize("who", ["owner", "dm"])
def test_no_page_carries_a_secret_or_another_districts_names(app, client, auth, world, who, caplog):
    caplog.set_level(logging.DEBUG)
    auth.login(world[who].email)
    ids = own_ids(app, world, who)
    forbidden = forbidden_for(app, world, who)
    checked = 0
    for route in manager_routes(app, world, who):
        if route[1] != "GET":
            continue
        for headers in (None, HX):
            response = call(client, route, ids, headers=headers)
            assert_served_signed_in(response, route)  # served, so the check below reads a real page
            assert_carries_none(response.get_data(as_text=True) + str(response.headers) + session_text(app, client),
                                forbidden, route)
            checked += 1
    assert_carries_none(caplog.text, forbidden, "log")
    assert checked >= 40


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
        make_district_audit_event(world["a"], "source_mapped", world["dm"],
                                  f"{world[name].name} mapped to {source.name}", commit=False)
    db.session.commit()
    auth.login(world["owner"].email)
    ids = own_ids(app, world, "owner")
    forbidden = forbidden_for(app, world, "owner")
    served = ""
    for route in manager_routes(app, world, "owner"):
        if route[1] == "GET":
            response = call(client, route, ids)
            assert_served_signed_in(response, route)
            served += response.get_data(as_text=True)
            assert_carries_none(response.get_data(as_text=True), forbidden, route)
    assert "Homekid has no family name" in served  # the owner's own school's rows are there


TYPED = "Typed-Secret-9QxZ-never-echoed"
SECRET_FIELDS = ("client_secret", "password", "current_password", "new_password", "confirm", "confirm_password")


@pytest.mark.parametrize("who", [None, "owner", "dm"])
def test_a_typed_secret_or_password_never_comes_back(app, client, auth, world, who, caplog):
    """Every POST, with a form that would otherwise pass (a wrong secret, a failing test): the answer, the log and
    any email leave out what was typed in a secret or password field."""
    caplog.set_level(logging.DEBUG)
    if who:
        auth.login(world[who].email)
    ids = own_ids(app, world, who) if who else world["home_ids"]
    token = token_of(client)
    form = {"csrf_token": token, "vendor": "aeries", "method": "oneroster", "url": "https://demo.aeries.net/aeries/",
            "client_id": "typed-id", "school_id": "5", "name": "Typed source", "sync_time": "02:00",
            "email": world["owner"].email, **{name: TYPED for name in SECRET_FIELDS}}
    posts = [r for r in (manager_routes(app, world, who) if who else routes(app)) if r[1] == "POST"]
    with mail.record_messages() as outbox:
        for route in posts:
            for headers in (None, HX):
                response = call(client, route, ids, data=form, headers=headers)
                assert TYPED not in response.get_data(as_text=True) + str(response.headers), route
                assert TYPED not in session_text(app, client), route
                if response.headers.get("Location", "").startswith("/") and route[0].endpoint != "auth.logout":
                    assert TYPED not in client.get(response.headers["Location"]).get_data(as_text=True), route
    assert all(TYPED not in f"{m.subject}{m.body}{m.html}" for m in outbox)
    assert "csrf_token" in session_text(app, client)  # the cookie was read, not skipped
    assert TYPED not in caplog.text


# A form every POST of the portal would take, to which each test below adds one bad field: a bad field of a whole
# hostile form is often never read, because the form's first field already failed.
VALID = {"vendor": "aeries", "method": "oneroster", "url": "https://demo.aeries.net/aeries/", "client_id": "cid",
         "client_secret": "typed", "school_id": "5", "sync_time": "02:00", "archive_threshold_percent": "10",
         "trigger": "preview", "starts_on": "2030-01-01", "ends_on": "2030-01-05", "note": "n",
         "night_emails": "digest",
         "name": "Typed name", "sis_school_id": "5", "sis_name": "SIS name", "confirm": "untested",
         "sync_students": "on", "automatic": "on", "role": "student", "source_id": "abc", "csv_sync_on_receipt": "now",
         "threshold_override": "50", "confirmed": "yes", "confirm_archive": "on"}
ONE_BAD = {"nul": "a\x00b", "huge_number": "9" * 5000}  # what PostgreSQL refuses to store; what int() refuses


@pytest.mark.parametrize("who", ["owner", "dm"])
@pytest.mark.parametrize("kind", sorted(ONE_BAD))
def test_one_bad_field_in_a_valid_form_never_gets_a_500(app, client, auth, world, who, kind):
    auth.login(world[who].email)
    ids = own_ids(app, world, who)
    token = token_of(client)
    posts = [r for r in manager_routes(app, world, who) if r[1] == "POST" and r[0].endpoint != "auth.change_password"]
    for route in posts:
        for field in VALID:
            data = {**VALID, field: ONE_BAD[kind], "csrf_token": token,
                    "school_id": ONE_BAD[kind] if field == "school_id" else str(world["home"].id)}
            response = call(client, route, ids, data=data, headers=HX)
            assert response.status_code < 500, (route, field, response.status_code)


def test_a_database_error_gets_the_portals_error_page_signed_in(app, client, auth, world, monkeypatch, caplog):
    """An unexpected database error (here a failing query under People search) left the transaction aborted: the
    error page's own look-up of the signed-in account failed as well, and the server's bare 500 came instead."""
    def failing_search(*args, **kwargs):
        db.session.execute(text("SELECT 1 / 0"))

    monkeypatch.setattr("portal.people.routes.search_people", failing_search)
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)
    auth.login(world["owner"].email)
    for headers in (None, HX):
        response = client.get("/schools/home-school/people", headers=headers)
        html = response.get_data(as_text=True)
        assert response.status_code == 500
        assert "Something went wrong" in html and "Nothing was changed; please try again." in html
        assert world["owner"].full_name in html  # the portal's own page, still signed in
        assert "Traceback" not in html and "SELECT" not in html
    monkeypatch.undo()
    assert client.get("/schools/home-school/people").status_code == 200
