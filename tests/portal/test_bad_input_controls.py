"""The newer controls given bad input: Sync now's one-run threshold, per-role sync rules, seasonal pauses,
per-person actions and `flask roster sync --allow-archive`.

Each answers with a plain message and an honest status (422, or 404/409 where that is the contract), never a
500 or a raw script tag, and leaves everything as it was: no run queued, no rule or pause saved, no audit entry.
"""
import re
from urllib.parse import quote

import pytest

from store.db import db
from store.secrets import encrypt_secret
from store.models import AuditEvent, BlackoutPeriod, Person, RosterConnection, SyncRun
from tests.factories import make_connection, make_district_manager, make_owner, make_person, make_school
from tests.support import BAD_VALUES, csrf_token

HX = {"HX-Request": "true"}
SCRIPT = "<script>alert(1)</script>"
TEXT = dict(BAD_VALUES, sqlish="1; DROP TABLE person")
NUMBERS = {
    "negative": "-5",
    "just_below": "-0.01",
    "just_above": "100.01",
    "out_of_range": "150",
    "overflow": "1e999",
    "long_digits": "9" * 400,
    "nan": "nan",
    "NaN": "NaN",
    "inf": "inf",
    "minus_inf": "-Infinity",
    "percent_sign": "25%",
    "comma": "1,5",
    "underscore": "2_5",  # float() alone would read this as 25
    "hex": "0x19",
    "zero_padded": "0" * 30 + "50",  # cut to 20 characters, this used to be read as 0
}
ALL = {**TEXT, **NUMBERS}
BLANK = ("empty", "spaces")  # a blank one-run threshold means "use the saved one"
PERCENT = "Give a percentage from 0 to 100"


def text(response) -> str:
    return response.get_data(as_text=True)


def assert_handled(response, *codes):
    body = text(response)
    assert response.status_code in codes, (response.status_code, body[:300])
    assert SCRIPT not in body and "Traceback" not in body
    return body


def nothing_audited():
    return db.session.scalar(db.select(db.func.count(AuditEvent.id))) == 0


@pytest.fixture
def school(app, client, auth):
    """A school with a saved connection (enough to queue a run and save rules) and its owner signed in."""
    school = make_school(slug="north")
    make_connection(school)
    auth.login(make_owner(school).email)
    return school


def post(client, path, data, htmx=True, **kwargs):
    data = dict(data, csrf_token=csrf_token(client, "/schools/north/rostering"))
    return client.post(f"/schools/north{path}", data=data, headers=HX if htmx else {}, **kwargs)


def connection(school) -> RosterConnection:
    db.session.expire_all()
    return db.session.scalar(db.select(RosterConnection).filter_by(school_id=school.id))


# -- Sync now: the one-run archive threshold ------------------------------------------------------

@pytest.mark.parametrize("kind", [k for k in ALL if k not in BLANK])
@pytest.mark.parametrize("htmx", [True, False])
def test_one_run_threshold_refuses_bad_input_and_queues_nothing(client, school, kind, htmx):
    for trigger in ("manual", "preview"):
        response = post(client, "/rostering/runs", {"trigger": trigger, "threshold_override": ALL[kind]}, htmx)
        body = assert_handled(response, 422)
        assert PERCENT in body and 'id="threshold-override-error"' in body
        assert ("<html" in body) is not htmx
        if htmx:
            assert response.headers["HX-Retarget"] == "#sync-now"
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0
    assert nothing_audited()


@pytest.mark.parametrize("kind", BLANK)
def test_blank_one_run_threshold_uses_the_saved_one(client, school, kind):
    assert_handled(post(client, "/rostering/runs", {"trigger": "manual", "threshold_override": ALL[kind]}), 200)
    assert db.session.scalar(db.select(SyncRun.archive_threshold_override)) is None


@pytest.mark.parametrize("value, stored", [("-0", 0.0), (" 30 ", 30.0), ("1e1", 10.0), ("\uff12\uff15", 25.0)])
def test_odd_but_valid_one_run_thresholds(client, school, value, stored):
    body = assert_handled(post(client, "/rostering/runs", {"trigger": "manual", "threshold_override": value}), 200)
    run = db.session.scalar(db.select(SyncRun))
    assert run.archive_threshold_override == stored and str(run.archive_threshold_override) == str(stored)
    assert "-0%" not in body


@pytest.mark.parametrize("kind", TEXT)
def test_unknown_trigger_is_400_and_queues_nothing(client, school, kind):
    assert_handled(post(client, "/rostering/runs", {"trigger": ALL[kind], "threshold_override": "20"}), 400)
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0


# -- People Manager: per-role sync rules ----------------------------------------------------------

@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("htmx", [True, False])
def test_sync_rules_refuse_bad_values_in_every_field(client, school, kind, htmx):
    value = ALL[kind]
    cases = [({"role": value, "auto_update": "on"}, "pick one of those roles in the Role filter"),
             ({"role": "teacher", "auto_update": value, "archive": "on"}, "is a checkbox: tick it or leave it empty"),
             ({"role": "teacher", "auto_update": "on", "archive": value}, "is a checkbox: tick it or leave it empty")]
    before = connection(school).settings_changed_at
    for data, message in cases:
        body = assert_handled(post(client, "/people/sync-rules", data, htmx), 422)
        assert message in body and ("<html" in body) is not htmx
    conn = connection(school)
    assert (conn.no_update_roles, conn.no_archive_roles) == ("", "")
    assert conn.settings_changed_at == before and nothing_audited()


# -- Seasonal pause (a plain form: no htmx) -------------------------------------------------------

DATES = {
    "year_zero": "0000-01-01",
    "year_10000": "10000-01-01",
    "february_30": "2027-02-30",
    "month_13": "2027-13-01",
    "us_order": "06/10/2027",
    "script_after": "2027-06-10" + SCRIPT,  # used to be read as 2027-06-10
    "nul_after": "2027-06-10\x00x",  # used to be read as 2027-06-10
    "sql_after": "2027-06-10' OR 1=1 --",
}
GOOD_PAUSE = {"starts_on": "2027-06-01", "ends_on": "2027-06-10", "note": "Rollover"}


def pause_count():
    return db.session.scalar(db.select(db.func.count(BlackoutPeriod.id)))


@pytest.mark.parametrize("kind", {**ALL, **DATES})
@pytest.mark.parametrize("field", ["starts_on", "ends_on"])
def test_pause_dates_refuse_bad_input(client, school, kind, field):
    value = {**ALL, **DATES}[kind]
    body = assert_handled(post(client, "/rostering/pauses", dict(GOOD_PAUSE, **{field: value}), htmx=False), 422)
    label = "first day" if field == "starts_on" else "last day"
    assert f"Enter the {label} as a date, e.g. 2027-06-10." in body
    assert f'id="pause-{field}-error"' in body
    assert pause_count() == 0 and nothing_audited()


@pytest.mark.parametrize("starts_on, ends_on, message", [
    ("2027-06-10", "2027-06-01", "The last day must be on or after the first day."),
    ("2027-01-01", "2028-01-03", "A pause can last at most a year"),
    ("0001-01-01", "9999-12-31", "A pause can last at most a year"),
])
def test_pause_ranges_out_of_bounds_are_refused(client, school, starts_on, ends_on, message):
    data = dict(GOOD_PAUSE, starts_on=starts_on, ends_on=ends_on)
    assert message in assert_handled(post(client, "/rostering/pauses", data, htmx=False), 422)
    assert pause_count() == 0


NOTE_REFUSED = {"huge": "Keep the note under 200 characters.", "long_digits": "Keep the note under 200 characters.",
                "nul": "Remove the control characters from the note"}


@pytest.mark.parametrize("kind, message", NOTE_REFUSED.items())
def test_pause_note_refuses_what_cannot_be_kept(client, school, kind, message):
    data = dict(GOOD_PAUSE, note=ALL[kind])
    assert message in assert_handled(post(client, "/rostering/pauses", data, htmx=False), 422)
    assert pause_count() == 0 and nothing_audited()


@pytest.mark.parametrize("kind", [k for k in ALL if k not in NOTE_REFUSED])
def test_pause_note_keeps_odd_text_verbatim_and_escaped(client, school, kind):
    response = post(client, "/rostering/pauses", dict(GOOD_PAUSE, note=ALL[kind]), htmx=False,
                    follow_redirects=True)
    body = assert_handled(response, 200)
    assert db.session.scalar(db.select(BlackoutPeriod.note)) == " ".join(ALL[kind].split())
    if kind == "script":
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert db.session.scalar(db.select(db.func.count(Person.id))) == 1  # the person table is still there


# -- Per-person actions: POST /people/<id>/<action> ------------------------------------------------

def unchanged(person) -> bool:
    db.session.expire_all()
    person = db.session.get(Person, person.id)
    return person.sync_enabled and person.status == "active" and nothing_audited()


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("htmx", [True, False])
def test_person_action_refuses_unknown_actions(client, school, kind, htmx):
    person = make_person(school)
    value = ALL[kind]
    response = post(client, f"/people/{person.id}/{quote(value, safe='')}", {}, htmx)
    if not value or "/" in value:  # no such address
        assert_handled(response, 404)
    elif htmx:
        body = assert_handled(response, 409)
        assert "Unknown action: a person can be excluded, included, archived or restored." in body
        assert f'id="person-{person.id}"' in body and "<html" not in body
    else:
        assert_handled(response, 302)
        page = text(client.get(response.headers["Location"]))
        assert "Unknown action: a person can be excluded" in page
    assert unchanged(person)


IDS = {"zero": "0", "negative": "-1", "beyond_integer": str(2**31), "huge_number": "9" * 400,
       "unknown": str(2**31 - 1)}


@pytest.mark.parametrize("kind", {**ALL, **IDS})
@pytest.mark.parametrize("htmx", [True, False])
def test_person_action_refuses_bad_person_ids(client, school, kind, htmx):
    person = make_person(school)
    value = {**ALL, **IDS}[kind]
    assert_handled(post(client, f"/people/{quote(value, safe='')}/exclude", {}, htmx), 404)
    assert unchanged(person)


# -- ids in the run and pause addresses ----------------------------------------------------------

@pytest.mark.parametrize("kind", IDS)
def test_run_and_pause_addresses_with_bad_ids_are_404(client, school, kind):
    run_id = IDS[kind]
    for method, path in (("get", "/runs/{}"), ("get", "/runs/{}/progress"), ("get", "/runs/{}/issues.csv"),
                         ("post", "/runs/{}/approve"), ("post", "/runs/{}/discard")):
        url = "/schools/north/rostering" + path.format(run_id)
        data = {"csrf_token": csrf_token(client, "/schools/north/rostering")} if method == "post" else None
        assert_handled(getattr(client, method)(url, data=data, headers=HX), 404)
    response = post(client, f"/rostering/pauses/{run_id}/delete", {}, htmx=False, follow_redirects=True)
    body = assert_handled(response, 200, 404)  # "-1" matches no address at all
    assert response.status_code == 404 or "That pause no longer exists." in body


@pytest.mark.parametrize("value", [str(2**31), "9" * 400])
def test_every_address_with_an_id_answers_an_id_past_the_database_range_with_404(app, client, auth, value):
    """One URL converter covers every <int:…> route, including ones added later (the district overview was missed)."""
    school = make_school(slug="far")
    manager = make_district_manager(school.district)
    auth.login(manager.email)
    rules = [r for r in app.url_map.iter_rules() if any(type(c).__name__ == "DatabaseId" for c in
                                                         r._converters.values())]
    assert len(rules) >= 8
    for rule in rules:
        path = rule.rule.replace("<slug>", "far")
        for name in rule.arguments - {"slug"}:
            path = re.sub(rf"<int:{name}>", value, path)
        if "POST" in rule.methods:
            response = client.post(path, data={"csrf_token": csrf_token(client, "/")}, headers=HX)
        else:
            response = client.get(path, headers=HX)
        assert response.status_code == 404, (path, response.status_code)


# -- the Rostering page's connection and settings forms, and People search ---------------------

CONNECTION = {"vendor": "aeries", "method": "oneroster", "url": "https://demo.aeries.net/aeries/",
              "client_id": "id", "client_secret": "secret", "school_id": "5",
              "confirm": "untested"}  # "Save anyway": these tests are about bad input, not about testing first
SETTINGS = {"sync_students": "on", "sync_time": "02:00", "archive_threshold_percent": "10"}


def connection_row(school) -> tuple:
    conn = connection(school)
    return (conn.vendor, conn.url, conn.client_id, conn.sis_school_id, conn.secret_encrypted, conn.sync_time,
            conn.archive_threshold_percent, conn.sync_students)


@pytest.mark.parametrize("field,kind", [(f, k) for f in ("vendor", "method", "url", "client_id", "client_secret")
                                         for k in TEXT] + [("school_id", k) for k in ALL])
def test_connection_form_answers_bad_input_in_place_and_keeps_the_saved_connection(client, school, field, kind):
    conn = connection(school)
    conn.secret_encrypted = encrypt_secret("saved-secret")
    db.session.commit()
    before = connection_row(school)
    response = post(client, "/rostering/connection", dict(CONNECTION, **{field: ALL[kind]}))
    body = assert_handled(response, 200, 422)  # 200: the saved connection's form again, "Connection saved."
    if response.status_code == 422:
        assert connection_row(school) == before and 'aria-invalid="true"' in body
    else:  # odd but valid: a secret of any characters, an unknown vendor or method falls back to the default
        assert field in ("client_secret", "client_id", "vendor", "method") or (  # or digits: an Aeries code
            field == "school_id" and ALL[kind].isdigit()), (field, kind)


def test_a_saved_secret_the_keys_cannot_read_asks_for_the_secret_again(client, school):
    """Blank secret means "keep the saved one"; if the encryption keys changed, say so instead of a 500."""
    conn = connection(school)  # saved for the origin and Client ID typed below, so the reuse rule allows it
    conn.url, conn.client_id = CONNECTION["url"], CONNECTION["client_id"]
    conn.secret_encrypted = b"sealed-with-a-key-since-removed"  # no key of today reads it
    db.session.commit()
    response = post(client, "/rostering/connection", dict(CONNECTION, client_secret=""))
    body = assert_handled(response, 422)
    assert "The saved secret can no longer be read" in body and "Enter the client secret again" in body


@pytest.mark.parametrize("field", ["sync_time", "archive_threshold_percent"])
@pytest.mark.parametrize("kind", ALL)
def test_settings_form_answers_bad_input_in_place_and_saves_nothing(client, school, field, kind):
    before = connection_row(school)
    response = post(client, "/rostering/settings", dict(SETTINGS, **{field: ALL[kind]}))
    body = assert_handled(response, 422)
    assert connection_row(school) == before
    assert ("Give the time as HH:MM" if field == "sync_time" else PERCENT) in body


@pytest.mark.parametrize("value,saved", [("2_5", None), ("0" * 30 + "50", None), (" 25 ", 25.0), ("-0", 0.0)])
def test_saved_threshold_reads_numbers_like_the_one_run_field(client, school, value, saved):
    response = post(client, "/rostering/settings", dict(SETTINGS, archive_threshold_percent=value))
    assert response.status_code == (200 if saved is not None else 422)
    assert connection(school).archive_threshold_percent == (10.0 if saved is None else saved)


@pytest.mark.parametrize("param", ["q", "role", "status", "page"])
@pytest.mark.parametrize("kind", {**ALL, "superscript": "²", "fullwidth": "２"})
def test_people_search_answers_any_query_string(client, school, param, kind):
    make_person(school, given_name="Ana")
    for headers in (HX | {"HX-Target": "people-table"}, {}):
        value = {**ALL, "superscript": "²", "fullwidth": "２"}[kind]
        response = client.get("/schools/north/people", query_string={param: value}, headers=headers)
        assert_handled(response, 200)


# -- flask roster sync --allow-archive PERCENT ----------------------------------------------------

@pytest.mark.parametrize("kind", ALL)
def test_cli_allow_archive_refuses_bad_input(runner, school, kind):
    result = runner.invoke(args=["roster", "sync", "--school", "north", "--allow-archive", ALL[kind]])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert "Invalid value for '--allow-archive'" in result.output
    assert "is not a percentage from 0 to 100, e.g. 25." in result.output
    assert len(result.output) < 500  # a huge value is quoted briefly
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0


# -- flask roster configure: every option ---------------------------------------------------------

CONFIGURE = {"--url": "https://demo.aeries.net/aeries/", "--client-id": "id", "--client-secret": "secret",
             "--sis-school-id": "5", "--app-name": "", "--token-url": ""}


@pytest.mark.parametrize("option", list(CONFIGURE) + ["--archive-threshold"])
@pytest.mark.parametrize("kind", ALL)
def test_cli_configure_answers_bad_input_with_a_message_and_saves_nothing_bad(runner, app, option, kind):
    make_school(slug="cli-bad")
    values = dict(CONFIGURE, **{option: ALL[kind]})
    args = ["roster", "configure", "--school", "cli-bad", "--vendor", "aeries"]
    for name, value in values.items():
        args += [name, value]
    result = runner.invoke(args=args)
    assert "Traceback" not in result.output and len(result.output) < 2000
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    conn = db.session.scalar(db.select(RosterConnection))
    if result.exit_code == 0:  # odd but valid text (an app name with emoji, say) is kept as typed
        assert option not in ("--url", "--archive-threshold") and "Saved the Aeries connection" in result.output
    else:
        assert result.exit_code == 2, result.output
        assert option in result.output or "Invalid value" in result.output
        assert conn is None or conn.archive_threshold_percent == 10.0


# -- Link to SIS record: POST /people/<id>/sis-link -----------------------------------------------

REFUSED_SIS_IDS = {"empty": "Enter the SIS record id", "spaces": "Enter the SIS record id",
                   "huge": "longer than 255 characters", "long_digits": "longer than 255 characters",
                   "nul": "cannot contain control",
                   "unicode": "cannot contain control"}  # its right-to-left override would disguise the id


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("htmx", [True, False])
def test_link_to_sis_record_refuses_what_cannot_be_an_id_and_escapes_the_rest(client, school, kind, htmx):
    person = make_person(school, role="teacher")
    value = ALL[kind]
    response = post(client, f"/people/{person.id}/sis-link", {"source_id": value}, htmx)
    db.session.expire_all()
    linked = db.session.get(Person, person.id).source_id
    if kind in REFUSED_SIS_IDS:
        body = assert_handled(response, 422)
        assert REFUSED_SIS_IDS[kind] in body
        assert linked is None and nothing_audited()
        return
    body = assert_handled(response, 200 if htmx else 302)
    assert linked == value.strip()
    if kind == "script" and htmx:
        assert "linked to SIS record &lt;script&gt;alert(1)&lt;/script&gt;" in body
