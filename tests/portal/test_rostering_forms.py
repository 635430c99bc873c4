"""The Rostering page's forms (#17): contradictory or empty sync settings, saving an untested or failing connection,
the two forms' independence, and one vocabulary for times, dates and roles."""
import re
from datetime import date, datetime, time, timezone

import pytest

from jobs.bundle_files import NO_BUNDLE
from jobs.connection import NO_CONNECTION, NO_ROLES, get_connection, settings_for
from store.db import db
from store.models import AuditEvent, RosterConnection, SyncRun
from store.vocabulary import WHO_TOGGLES, clock_text, date_text, moment_text, role_label
from tests.factories import make_connection, make_district, make_owner, make_school
from tests.support import csrf_token, finish_connection_test, sandbox_fixture

HX = {"HX-Request": "true"}
aeries = sandbox_fixture("aeries", schools=2, students=12, seed=17, scope="module")
SETTINGS = {"sync_students": "on", "sync_teachers": "on", "sync_time": "02:00", "archive_threshold_percent": "10"}
NO_ROLE = {name: "" for name in ("sync_students", "sync_teachers", "sync_staff", "sync_admins")}


@pytest.fixture
def school(app, client, auth):
    school = make_school(make_district(timezone="America/Chicago"), slug="forms-high")
    auth.login(make_owner(school).email)
    return school


def url(path=""):
    return f"/schools/forms-high/rostering{path}"


def post(client, path, data, htmx=True):
    data = dict(data, csrf_token=csrf_token(client, url()))
    return client.post(url(path), data=data, headers=HX if htmx else {})


def body(response) -> str:
    return response.get_data(as_text=True)


def aeries_values(sandbox, **overrides):
    info = sandbox.info
    return {"vendor": "aeries", "method": "oneroster", "url": info["base_url"] + "/", "client_id": info["client_id"],
            "client_secret": info["client_secret"], "school_id": info["school_ids"][0], **overrides}


def run_test(app, client, values) -> str:
    """Press Test connection and wait for the worker's checklist, as the page does."""
    result = finish_connection_test(app, client, post(client, "/connection/test", values))
    assert result.status_code == 200
    return body(result)


# -- 1. a sync that would sync nobody ---------------------------------------------------------------------------

@pytest.mark.parametrize("htmx", [True, False])
def test_settings_with_no_role_ticked_are_refused_next_to_the_toggles(client, school, htmx):
    conn = make_connection(school)
    response = post(client, "/settings", {**SETTINGS, **NO_ROLE, "sync_parents": "on", "automatic": "on"}, htmx=htmx)
    html = body(response)
    assert response.status_code == 422
    fieldset = re.search(r"<legend>Who to sync</legend>(.*?)</fieldset>", html, re.S).group(1)
    assert "Tick at least one of Students, Teachers, Staff or School admins" in fieldset
    assert "would sync nobody" in fieldset and 'id="setting-roles-error"' in fieldset
    assert "Sync settings saved." not in html
    db.session.expire_all()
    conn = db.session.get(RosterConnection, conn.id)
    assert (conn.sync_students, conn.automatic) == (True, False)  # nothing of the rejected form was saved


@pytest.mark.parametrize("trigger", ["preview", "manual"])
def test_sync_now_and_preview_refuse_when_no_role_is_synced(client, school, trigger):
    make_connection(school, sync_students=False, sync_teachers=False, sync_staff=False, sync_admins=False)
    response = post(client, "/runs", {"trigger": trigger})
    assert response.status_code == 409
    assert NO_ROLES in body(response) and "would sync nobody" in NO_ROLES
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0


def test_the_nightly_dispatcher_records_why_a_school_that_syncs_nobody_was_skipped(app, school):
    from jobs.schedule import dispatch_nightly
    make_connection(school, automatic=True, sync_time="00:00", sync_students=False, sync_teachers=False,
                    sync_staff=False, sync_admins=False)
    for minute in (0, 1):  # two scheduler ticks: one skipped run in the history, saying why
        assert dispatch_nightly(now=datetime(2026, 3, 2, 12, minute, tzinfo=timezone.utc)) == []
    runs = db.session.scalars(db.select(SyncRun)).all()
    assert [(run.trigger, run.status) for run in runs] == [("nightly", "skipped")]
    assert runs[0].error_message.startswith("The nightly sync was skipped: Students, Teachers, Staff and School admins "
                                            "are all unticked")


@pytest.mark.parametrize("fields, cause", [
    ({"secret_encrypted": None}, NO_CONNECTION),  # e.g. unmapped from its district's source: no credentials of its own
    ({"method": "oneroster_csv"}, NO_BUNDLE),  # the CSV method, and no bundle received yet
])
def test_the_nightly_dispatcher_records_why_a_school_it_cannot_sync_was_skipped(app, school, fields, cause):
    from jobs.schedule import dispatch_nightly
    conn = make_connection(school, automatic=True, sync_time="00:00", commit=False)
    for name, value in fields.items():
        setattr(conn, name, value)
    db.session.commit()
    for minute in (0, 1):  # two scheduler ticks: one skipped run in the history, saying why and what to do
        assert dispatch_nightly(now=datetime(2026, 3, 2, 12, minute, tzinfo=timezone.utc)) == []
    runs = db.session.scalars(db.select(SyncRun)).all()
    assert [(run.trigger, run.status, run.local_date) for run in runs] == [("nightly", "skipped", "2026-03-02")]
    assert runs[0].error_message == f"The nightly sync was skipped, and nothing was changed: {cause}"


# -- 9. Additions only cannot be on with Archive (or Auto update) ------------------------------------------------

@pytest.mark.parametrize("clash, names", [({"archive": "on"}, "Archive"), ({"auto_update": "on"}, "Auto update"),
                                          ({"archive": "on", "auto_update": "on"}, "Auto update and Archive")])
def test_additions_only_beside_archive_or_auto_update_is_refused(client, school, clash, names):
    make_connection(school)
    response = post(client, "/settings", {**SETTINGS, "additions_only": "on", **clash})
    html = body(response)
    assert response.status_code == 422
    error = re.search(r'id="setting-additions_only-error">(.*?)</p>', html, re.S).group(1)
    assert f"cannot be on together with {names}" in error and "Turn Additions only off" in error
    conn = get_connection(school)
    assert (conn.additions_only, conn.archive) == (False, False)


def test_each_change_option_is_explained_and_additions_only_alone_saves(client, school):
    make_connection(school)
    html = body(client.get(url()))
    for name, words in (("auto_update", "Off: they are skipped"), ("archive", "Off: they are kept"),
                        ("additions_only", "Auto update and Archive both off in one switch")):
        assert words in re.search(rf'id="setting-{name}-help">(.*?)</p>', html, re.S).group(1)
    response = post(client, "/settings", {**SETTINGS, "additions_only": "on"})
    assert response.status_code == 200
    assert get_connection(school).additions_only is True


# -- 4. saving a connection whose last test failed, or that was not tested after a change -------------------------

def test_saving_the_settings_that_just_failed_their_test_asks_first(app, client, school, aeries):
    bad = aeries_values(aeries, school_id="7")  # not among the SIS's schools: the test fails
    assert "check failed" in run_test(app, client, bad) or "checks failed" in run_test(app, client, bad)
    response = post(client, "/connection", bad)
    html = body(response)
    assert response.status_code == 409 and get_connection(school) is None
    warning = re.search(r'id="save-warning"[^>]*>(.*?)</div>', html, re.S).group(1)
    assert "The last test of these settings failed" in warning and "School found" in warning
    assert 'name="confirm" value="untested"' in warning and "Save anyway" in warning
    assert aeries.info["client_secret"] not in html
    assert "hx-preserve" in re.search(r'<input type="password"[^>]*>', html).group(0)  # the browser keeps it

    saved = post(client, "/connection", {**bad, "confirm": "untested"})
    assert saved.status_code == 204 and "test=" in saved.headers["HX-Redirect"]
    page = body(client.get(saved.headers["HX-Redirect"]))
    assert "Connection saved, although its last test failed" in page
    assert 'data-check="school"' in page or "School found" in page  # the checklist is still on the page


def test_replacing_a_working_connection_untested_says_the_old_secret_goes(app, client, school, aeries):
    good = aeries_values(aeries)
    run_test(app, client, good)
    first = post(client, "/connection", good)
    assert first.status_code == 204
    assert "Connection saved. Its last test passed." in body(client.get(first.headers["HX-Redirect"]))

    moved = aeries_values(aeries, url="https://sis.unreachable.example/aeries/", client_secret="new-secret-typed")
    response = post(client, "/connection", moved)
    html = body(response)
    assert response.status_code == 409
    assert "These settings have not been tested since they were changed." in html
    assert "Saving replaces the saved connection (Aeries, " in html and "the old secret is not kept" in html
    assert "new-secret-typed" not in html
    db.session.expire_all()
    assert settings_for(get_connection(school)).client_secret == aeries.info["client_secret"]  # nothing replaced

    confirmed = post(client, "/connection", {**moved, "confirm": "untested"})
    assert confirmed.status_code == 200  # only the form is swapped: the rest of the page keeps its edits
    assert "Connection saved without a test" in body(confirmed)
    db.session.expire_all()
    assert settings_for(get_connection(school)).client_secret == "new-secret-typed"


def test_saving_what_was_tested_and_passed_needs_no_question(app, client, school, aeries):
    good = aeries_values(aeries)
    run_test(app, client, good)
    assert post(client, "/connection", good).status_code == 204
    again = post(client, "/connection", {**good, "client_secret": ""})  # the saved connection, unchanged
    assert again.status_code == 200 and "Connection saved" in body(again)


def test_another_users_test_does_not_count(app, client, auth, school, aeries):
    good = aeries_values(aeries)
    make_connection(school, url="https://sis.example.org/aeries/")
    run_test(app, client, good)
    auth.logout()
    auth.login(make_owner(school).email)
    assert post(client, "/connection", good).status_code == 409


def test_without_javascript_the_question_is_a_page_that_asks_for_the_secret_again(client, school, aeries):
    make_connection(school, url="https://sis.example.org/aeries/")
    response = post(client, "/connection", aeries_values(aeries), htmx=False)
    html = body(response)
    assert response.status_code == 409 and "<html" in html and "Save anyway" in html
    assert "Enter the secret again: the portal never sends a secret back." in html
    assert aeries.info["client_secret"] not in html


# -- 14. the secret field after a rejected save; the two forms are independent ----------------------------------

def test_a_rejected_save_keeps_the_typed_secret_in_the_browser_only(client, school):
    response = post(client, "/connection", {"vendor": "aeries", "url": "https://demo.aeries.net",
                                            "client_id": "x", "client_secret": "typed-secret-9", "school_id": "5"})
    html = body(response)
    assert response.status_code == 422 and "typed-secret-9" not in html
    secret = re.search(r'<input type="password"[^>]*>', html).group(0)
    assert "hx-preserve" in secret and 'id="field-client_secret"' in secret
    assert "only this browser has it, the portal never sends a secret back" in html


def test_switching_sis_never_preserves_the_secret(client, school):
    html = body(client.get(url("/vendor-fields?vendor=infinite-campus"), headers=HX))
    assert "hx-preserve" not in html


def test_save_settings_answers_with_the_settings_form_only(client, school):
    make_connection(school)
    response = post(client, "/settings", SETTINGS)
    html = body(response)
    assert response.status_code == 200 and html.startswith('<form id="sync-settings"')
    assert 'id="connection-form"' not in html and "HX-Redirect" not in response.headers


# -- 18. one time format, one date format, one name per role ----------------------------------------------------

@pytest.mark.parametrize("value, shown", [("02:00", "2:00 AM"), ("00:05", "12:05 AM"), ("12:30", "12:30 PM"),
                                          ("23:45", "11:45 PM"), (time(14, 0), "2:00 PM"), ("", "—"), (None, "—")])
def test_clock_text(value, shown):
    assert clock_text(value) == shown


def test_date_and_moment_text():
    assert date_text(date(2027, 6, 1)) == date_text("2027-06-01") == "Jun 1, 2027"
    assert moment_text(datetime(2026, 12, 1, 2, 0)) == "Dec 1, 2026, 2:00 AM"


def test_one_name_per_role_in_settings_people_and_the_top_bar(client, school):
    assert [t.label for t in WHO_TOGGLES if t.role] == ["Students", "Teachers", "Staff", "School admins"]
    assert role_label("school_admin") == "School admin" and role_label("school_admin", plural=True) == "School admins"
    make_connection(school)
    html = body(client.get(url()))
    assert '<label for="setting-sync_admins">School admins</label>' in html and ">Admins<" not in html
    assert "· Owner</span>" in html


def test_the_nightly_time_reads_the_same_in_the_form_and_the_overview(client, school):
    make_connection(school, sync_time="02:00", automatic=True)
    form = body(client.get(url()))
    assert '<option value="02:00" selected>2:00 AM</option>' in form and 'type="time"' not in form
    overview = body(client.get("/district/rostering", follow_redirects=True))
    assert "nightly at 2:00 AM" in overview


def test_a_pause_reads_as_a_date_like_every_other(client, school):
    make_connection(school)
    response = post(client, "/pauses", {"starts_on": "2027-06-01", "ends_on": "2027-06-10"}, htmx=False)
    page = body(client.get(response.headers["Location"]))
    assert "Nightly syncs are paused from Jun 1, 2027 to Jun 10, 2027." in page
    assert "<td>Jun 1, 2027</td><td>Jun 10, 2027</td>" in page and "2027-06-01" not in page
    detail = db.session.scalars(db.select(AuditEvent.detail).where(AuditEvent.action == "blackout_added")).one()
    assert detail == "Nightly syncs paused Jun 1, 2027 to Jun 10, 2027"


# -- 17. a favicon on every page ----------------------------------------------------------------------------------

def test_every_page_links_a_favicon_that_is_served(client, school):
    html = body(client.get(url()))
    link = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">', html).group(1)
    icon = client.get(link)
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    assert '<script src="/static/portal.js" defer></script>' in html


def test_the_cli_refuses_the_same_settings_naming_its_options(app, runner):
    make_school(slug="cli-forms")
    base = ["roster", "configure", "--school", "cli-forms", "--vendor", "aeries", "--url",
            "https://sis.example.org/aeries/", "--client-id", "c", "--client-secret", "s", "--sis-school-id", "5"]
    nobody = runner.invoke(args=base + ["--no-students", "--no-teachers", "--no-staff", "--no-admins"])
    assert nobody.exit_code == 2 and "--students/--teachers/--staff/--admins: Tick at least one of" in nobody.output
    clash = runner.invoke(args=base + ["--additions-only", "--archive", "--no-auto-update"])
    assert clash.exit_code == 2
    assert "--additions-only: Additions only changes and archives nobody, so it cannot be on together with Archive" \
        in clash.output


def test_no_template_carries_an_inline_style_or_script():
    """The CSP refuses inline styles and scripts (#17.17); emails are not served under it and keep theirs."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / "portal" / "templates"
    pages = [path for path in root.rglob("*.html") if path.parent.name != "email"]
    assert len(pages) > 20
    for path in pages:
        html = path.read_text()
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=|hx-on", html), path
        assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html)), path
