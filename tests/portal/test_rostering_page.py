"""The Rostering page over the Flask test client, a real database and the sandbox SIS over real HTTP."""
import re
import time
from datetime import date

import pytest
from rq import SimpleWorker

from connectors.errors import InvalidSettings
from jobs import check_records
from jobs.check_records import ConnectionTest
from jobs.connection import get_connection, settings_for
from jobs.thresholds import back_to_school_reason, parse_threshold_override
from store.db import db
from store.models import AuditEvent, Person, RosterConnection, SyncRun
from tests.support import finish_connection_test
from tests.factories import (PASSWORD, make_change, make_connection, make_district, make_district_manager, make_issue,
                             make_bundle, make_owner, make_person, make_run, make_school)
from tests.support import assert_served_signed_in, csrf_token, sandbox_fixture

HX = {"HX-Request": "true"}
GUID = "CE8DF1FC-3242-4716-A5F5-5A957F86DC36"

aeries = sandbox_fixture("aeries", schools=3, students=30, seed=5, scope="module")


def add_strangers(world):
    """Accounts that must not (or, for the district manager, may) open this school's page."""
    district = world["school"].district
    world.update(dm=make_district_manager(district),
                 teacher=make_person(world["school"], role="teacher", password=PASSWORD),
                 sibling_owner=make_owner(make_school(district, slug="sibling")),
                 foreign_dm=make_district_manager(make_district()))


def page_url(path=""):
    return f"/schools/lincoln/rostering{path}"


def post(client, path, data=None, htmx=True):
    data = dict(data or {}, csrf_token=csrf_token(client, page_url()))
    return client.post(page_url(path), data=data, headers=HX if htmx else {})


def aeries_values(sandbox, **overrides):
    info = sandbox.info
    values = {"vendor": "aeries", "method": "oneroster", "url": info["base_url"] + "/",
              "client_id": info["client_id"], "client_secret": info["client_secret"],
              "school_id": info["school_ids"][0]}
    values.update(overrides)
    return values


def run_connection_test(app, client, values) -> str:
    """Test connection as the page does it: queued by the POST, run by a worker, shown by the poll."""
    result = finish_connection_test(app, client, post(client, "/connection/test", values))
    assert result.status_code == 200
    return result.get_data(as_text=True)


def field_block(html, name):
    """The markup of one form field, from its wrapper to the next one."""
    match = re.search(rf'id="field-{name}-wrap".*?(?=-wrap"|<div class="actions")', html, re.S)
    assert match, f"no field {name}"
    return match.group(0)


def test_page_shows_the_connection_form_with_labels(client, owner):
    html = client.get(page_url()).get_data(as_text=True)
    assert '<label for="field-vendor">SIS</label>' in html
    assert "Other OneRoster provider (1.1 or 1.2)" in html and "Infinite Campus" in html
    for name in ("url", "client_id", "client_secret", "school_id"):
        assert f'<label for="field-{name}">' in html
    assert "full IIS reset" in html
    assert 'aria-live="polite"' in html
    assert "style=" not in html and "<script>" not in html


@pytest.mark.parametrize("vendor, field, value, message", [
    ("aeries", "url", "https://demo.aeries.net", "must include the sub-directory"),
    ("aeries", "url", "http://demo.aeries.net/aeries/", "must start with https://"),
    ("aeries", "school_id", "lincoln", "digits only"),
    ("infinite-campus", "school_id", "1234", "GUID"),
])
def test_invalid_field_is_reported_next_to_it_and_typed_values_stay(client, owner, vendor, field, value, message):
    data = {"vendor": vendor, "url": "https://sis.example.org/aeries/", "client_id": "typed-client",
            "client_secret": "typed-secret-1", "school_id": "5", "app_name": "minga"}
    if vendor == "infinite-campus":
        data.update(url="https://campus.example.org/campus/api/oneroster/v1p1/minga", school_id=GUID)
    data[field] = value
    response = post(client, "/connection", data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#connection-form"
    assert message in field_block(html, field)
    assert 'value="typed-client"' in html
    assert "typed-secret-1" not in html
    assert db.session.scalar(db.select(RosterConnection)) is None


def test_without_javascript_an_invalid_form_re_renders_the_page(client, owner):
    response = post(client, "/connection", {"vendor": "aeries", "url": "http://x/aeries/"}, htmx=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" in html and "Consumer ID is required." in html


def test_saved_secret_is_write_only_and_blank_keeps_it(client, owner, world, aeries):
    secret = aeries.info["client_secret"]
    response = post(client, "/connection", aeries_values(aeries))
    assert response.status_code == 204 and response.headers["HX-Redirect"] == page_url()
    pages = [client.get(page_url()), client.get(page_url("/vendor-fields?vendor=aeries")),
             post(client, "/connection/test", aeries_values(aeries, client_secret="")),
             post(client, "/connection", aeries_values(aeries, url="nope"))]
    for response in pages:
        assert secret not in response.get_data(as_text=True)
    html = pages[0].get_data(as_text=True)
    assert "Saved — leave blank to keep it" in html and 'name="client_secret" autocomplete' in html

    post(client, "/connection", aeries_values(aeries, client_secret="", client_id=aeries.info["client_id"]))
    conn = get_connection(world["school"])
    assert settings_for(conn).client_secret == secret


def test_without_javascript_saving_redirects(client, owner, aeries):
    response = post(client, "/connection", aeries_values(aeries), htmx=False)
    assert response.status_code == 302 and response.headers["Location"].endswith(page_url())
    assert "Connection saved." in client.get(page_url()).get_data(as_text=True)


def test_switching_sis_clears_the_other_vendors_values(client, owner, world):
    """#17.5: what was typed for one SIS (the Aeries URL, consumer id, School ID 994) does not follow to the next."""
    response = client.get(page_url("/vendor-fields?vendor=infinite-campus&client_id=aeries-consumer&school_id=994"
                                   "&url=https://district.aeries.net/aeries/&client_secret=x1x2x3"), headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert 'id="vendor-fields"' in html and "App Name" in html and "OneRoster Provisioning" in html
    for typed in ("aeries-consumer", "994", "district.aeries.net", "x1x2x3"):
        assert f'value="{typed}' not in html
    assert re.findall(r'<input type="text"[^>]*value="([^"]*)"', html) == ["", "", "", ""]
    html = client.get(page_url("/vendor-fields?vendor=oneroster"), headers=HX).get_data(as_text=True)
    assert "Token URL" in html and "OAuth 1.0a" in html


def test_switching_back_to_the_saved_sis_shows_its_saved_values_only(client, owner, world):
    make_connection(world["school"], vendor="aeries", url="https://demo.aeries.net/aeries/", client_id="saved-id",
                    sis_school_id="994")
    campus = client.get(page_url("/vendor-fields?vendor=infinite-campus"), headers=HX).get_data(as_text=True)
    assert "saved-id" not in campus and "demo.aeries.net" not in campus and "Saved</span>" not in campus
    aeries = client.get(page_url("/vendor-fields?vendor=aeries&client_id=typed"), headers=HX).get_data(as_text=True)
    assert 'value="saved-id"' in aeries and 'value="994"' in aeries and 'value="typed"' not in aeries
    assert "Saved</span>" in aeries


def test_placeholders_are_examples_under_the_field_never_grey_values(client, owner):
    """#17.6: no grey placeholder that could pass for a saved value; an example under the field instead."""
    html = client.get(page_url()).get_data(as_text=True)
    assert 'placeholder="5"' not in html and "placeholder=\"https" not in html
    assert re.findall(r'<input type="text"[^>]*placeholder=', html) == []
    assert "For example: <code>5</code>" in field_block(html, "school_id")
    campus = client.get(page_url("/vendor-fields?vendor=infinite-campus"), headers=HX).get_data(as_text=True)
    assert 'placeholder="minga"' not in campus and "For example: <code>minga</code>" in field_block(campus, "app_name")


def test_campus_app_name_fills_in_from_a_pasted_url(client, owner):
    url = "https://campus.example.org/campus/api/oneroster/v1p1/mingaApp/ims/oneroster/v1p1/schools?limit=5"
    html = client.get(page_url("/vendor-fields"), query_string={"vendor": "infinite-campus", "url": url, "prefill": "1"},
                      headers=HX).get_data(as_text=True)
    assert 'value="mingaApp"' in field_block(html, "app_name")


def test_connection_test_all_green_for_a_good_config(app, client, owner, aeries):
    html = run_connection_test(app, client, aeries_values(aeries))
    assert "<html" not in html and "hx-trigger" not in html  # the final fragment stops the polling
    assert "Connection works: every check passed." in html
    assert html.count('<li class="ok') == 9 and 'class="denied"' not in html


def test_connection_test_shows_the_aeries_fix_for_a_denied_area(app, client, owner, aeries):
    aeries.set_faults(deny=["teachers", "users"])  # no listing left to fall back to
    try:
        html = run_connection_test(app, client, aeries_values(aeries))
    finally:
        aeries.clear_faults()
    row = re.search(r'<li class="denied" data-check="read:teachers">.*?</li>', html, re.S).group(0)
    assert "Teacher Data" in row
    assert "Enable READ for Teacher Data on the Aeries API Security page, then do a full IIS reset." in row


def test_connection_test_counts_only_real_failures_and_marks_optional_rows(app, client, owner, aeries):
    aeries.set_faults(refuse_listings=["schools/*/enrollments"], refuse_how="unsupported", deny=["schools/"])
    try:
        html = run_connection_test(app, client, aeries_values(aeries))
    finally:
        aeries.clear_faults()
    # students and teachers fall back to the global listings; the denied optional areas do not count
    assert "Connection works: every check the sync needs passed." in html
    row = re.search(r'<li class="failed optional" data-check="read:enrollments">.*?</li>', html, re.S).group(0)
    assert "Optional" in row and "does not fail the test" in row


def test_connection_test_lists_the_real_school_ids(app, client, owner, aeries):
    html = run_connection_test(app, client, aeries_values(aeries, school_id="7"))
    ids = ", ".join(sorted(aeries.info["school_ids"], key=int))
    assert f"The School ID 7 is not among this SIS&#39;s schools: {ids}" in html
    assert '<li class="failed" data-check="school">' in html


def test_sync_settings_save_and_validate(client, owner, world, aeries):
    post(client, "/connection", aeries_values(aeries))
    data = {"sync_students": "on", "sync_teachers": "on", "automatic": "on", "sync_time": "03:30",
            "archive_threshold_percent": "15", "report_opt_in": "on"}
    response = post(client, "/settings", data)
    assert response.status_code == 200 and "Sync settings saved." in response.get_data(as_text=True)
    conn = get_connection(world["school"])
    assert (conn.sync_time, conn.automatic, conn.sync_staff, conn.archive_threshold_percent) == ("03:30", True, False, 15)
    assert db.session.get(Person, world["owner"].id).sync_report_opt_in is True

    response = post(client, "/settings", dict(data, sync_time="25:99", archive_threshold_percent="150"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="25:99"' in html and 'value="150"' in html
    assert html.count('class="error"') >= 2


def test_additions_only_is_offered_and_saved(client, owner, world, aeries):
    post(client, "/connection", aeries_values(aeries))
    page = client.get(f"/schools/{world['school'].slug}/rostering").get_data(as_text=True)
    assert "Additions only" in page
    post(client, "/settings", {"sync_students": "on", "sync_time": "02:00", "archive_threshold_percent": "10",
                               "additions_only": "on"})
    assert get_connection(world["school"]).additions_only is True
    post(client, "/settings", {"sync_students": "on", "sync_time": "02:00", "archive_threshold_percent": "10"})
    assert get_connection(world["school"]).additions_only is False


def test_sync_now_runs_shows_progress_and_refuses_a_second_start(app, client, owner, world, aeries):
    post(client, "/connection", aeries_values(aeries))
    response = post(client, "/runs", {"trigger": "manual"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'hx-trigger="every 1s"' in html and "<progress" in html
    second = post(client, "/runs", {"trigger": "manual"})
    assert second.status_code == 409 and "already" in second.get_data(as_text=True).lower()

    SimpleWorker([app.sync_queue], connection=app.redis).work(burst=True)
    run = db.session.scalar(db.select(SyncRun))
    db.session.refresh(run)
    html = client.get(page_url(f"/runs/{run.id}/progress"), headers=HX).get_data(as_text=True)
    assert run.status == "succeeded", run.error_message
    assert "hx-trigger" not in html and 'value="100"' in html and "Sync finished" in html
    people = client.get(f"/schools/lincoln/people").get_data(as_text=True)
    assert "From the SIS" in people


def test_progress_polls_while_running_and_stops_when_finished(client, owner, world):
    run = make_run(world["school"], status="running", phase="fetching", percent=40, created=12)
    html = client.get(page_url(f"/runs/{run.id}/progress"), headers=HX).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in html and 'value="40"' in html and "<strong>12</strong> Created" in html
    run.status, run.percent = "succeeded", 100
    db.session.commit()
    response = client.get(page_url(f"/runs/{run.id}/progress"), headers=HX)
    assert "hx-trigger" not in response.get_data(as_text=True)
    assert response.headers["HX-Trigger"] == "runs-changed"


def test_review_run_lists_who_would_be_archived_with_approve_and_discard(client, owner, world):
    run = make_run(world["school"], status="needs_review", would_archive=2, rostered_total=10)
    make_change(run, "archive", source_id="s-1", field="given_name", before="Ada")
    make_change(run, "archive", source_id="s-1", field="family_name", before="Lovelace")
    html = client.get(page_url(f"/runs/{run.id}/progress"), headers=HX).get_data(as_text=True)
    assert "Ada Lovelace" in html
    assert "This sync tried to archive 2 of 10 rostered people (20%), more than the 10% threshold" in html
    assert "Approve and archive" in html and "Discard this run" in html


def test_a_held_run_says_its_creates_and_updates_are_not_made_yet(client, owner, world):
    """The held panel showed "2 Created, 5 Updated" beside "stopped without changing anything": it says they wait."""
    run = make_run(world["school"], status="needs_review", would_archive=20, rostered_total=73, created=2, updated=5)
    html = client.get(page_url(f"/runs/{run.id}/progress"), headers=HX).get_data(as_text=True)
    assert "Its other changes wait too: 2 to create and 5 to update" in html
    assert "approving runs the sync again and makes them with the archiving" in html
    only_archives = make_run(world["school"], status="needs_review", would_archive=20, rostered_total=73)
    html = client.get(page_url(f"/runs/{only_archives.id}/progress"), headers=HX).get_data(as_text=True)
    assert "Its other changes wait too" not in html


def test_preview_lists_planned_changes_with_field_diffs(client, owner, world):
    run = make_run(world["school"], trigger="preview", status="succeeded")
    make_change(run, "update", source_id="s-2", field="family_name", before="Smith", after="Smyth")
    make_change(run, "create", source_id="s-3", field="given_name", after="Grace")
    html = client.get(page_url(f"/runs/{run.id}/progress"), headers=HX).get_data(as_text=True)
    assert "Would update (1)" in html and "<del>Smith</del> → <ins>Smyth</ins>" in html
    assert "Would create (1)" in html and "Grace" in html and "nothing was changed" in html


def test_history_and_run_page_with_issues(client, owner, world):
    run = make_run(world["school"], status="succeeded", issues=1)
    make_issue(run, source_id="s-9", kind="missing_name", message="No family name.")
    html = client.get(page_url()).get_data(as_text=True)
    assert f"#{run.id}</a>" in html and "America/Chicago" in html
    html = client.get(page_url(f"/runs/{run.id}")).get_data(as_text=True)
    assert "No family name." in html and "Download issues as CSV" in html


def test_issues_csv_is_an_attachment_safe_from_formulas(client, owner, world):
    run = make_run(world["school"], status="succeeded")
    make_issue(run, source_id="=HYPERLINK(1)", kind="bad", message="+SUM(A1)")
    make_issue(run, source_id="s-1", kind="bad", message="@cmd, -1 and fine")
    response = client.get(page_url(f"/runs/{run.id}/issues.csv"))
    body = response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "'=HYPERLINK(1)" in body and "'+SUM(A1)" in body and "'@cmd" in body
    assert "\n=" not in body and ",=" not in body


def test_a_run_of_another_school_is_404(client, owner, world):
    other = make_run(make_school(world["school"].district), status="succeeded")
    for path in (f"/runs/{other.id}", f"/runs/{other.id}/progress", f"/runs/{other.id}/issues.csv"):
        assert client.get(page_url(path)).status_code == 404
    assert post(client, f"/runs/{other.id}/approve").status_code == 404


def rostering_rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("rostering.")]


def _build(rule, run_id, check_id="no-such-connection-test", bundle_id=None):
    return rule.build({"slug": "lincoln", "run_id": run_id, "period_id": run_id, "check_id": check_id,
                       "bundle_id": bundle_id or run_id}, append_unknown=False)[1]


def _own_connection_test(app, person, school) -> str:
    """A finished connection test of `person` at `school`, as the worker leaves it."""
    test = ConnectionTest(check_id="t" * 24, user_id=person.id, school_id=school.id, vendor="aeries",
                          host="https://sis.example.org/aeries", started_at=time.time(), status="done")
    check_records.save(app.redis, test)
    return test.check_id


def test_every_post_endpoint_refuses_a_missing_csrf_token(app, client, owner, world):
    run = make_run(world["school"], status="needs_review")
    posts = [r for r in rostering_rules(app) if "POST" in r.methods]
    assert len(posts) >= 6
    for rule in posts:
        response = client.post(_build(rule, run.id), data={"trigger": "manual"}, headers=HX)
        assert response.status_code == 400, rule.endpoint
    assert db.session.get(SyncRun, run.id).status == "needs_review"


@pytest.mark.parametrize("who, status", [("teacher", 403), ("sibling_owner", 404), ("foreign_dm", 404),
                                         ("dm", 200)])
def test_every_endpoint_checks_role_and_school(app, client, auth, world, who, status, tmp_path):
    add_strangers(world)
    run = make_run(world["school"], status="succeeded")
    (tmp_path / "b.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip, kept as received
    bundle = make_bundle(world["school"], stored_path=str(tmp_path / "b.zip"))
    auth.login(world[who].email)
    token = csrf_token(client, "/login")
    check_id = _own_connection_test(app, world[who], world["school"])  # their own: only role and school decide
    for rule in rostering_rules(app):
        url = _build(rule, run.id, check_id, bundle.id)
        if "GET" in rule.methods:
            response = client.get(url)
        else:
            response = client.post(url, data={"csrf_token": token, "trigger": "preview"}, headers=HX)
        if status == 200:
            assert_served_signed_in(response, rule.endpoint)
        else:
            assert response.status_code == status, rule.endpoint
    if status == 200:  # and still signed in after every endpoint
        assert world["school"].name in client.get("/", follow_redirects=True).get_data(as_text=True)


def test_discard_a_run_waiting_for_review(client, owner, world):
    run = make_run(world["school"], status="needs_review", would_archive=5, rostered_total=10)
    response = post(client, f"/runs/{run.id}/discard")
    assert response.status_code == 200 and "Skipped" in response.get_data(as_text=True)
    assert db.session.get(SyncRun, run.id).status == "skipped"
    again = post(client, f"/runs/{run.id}/approve")
    assert again.status_code == 409 and "waiting for review" in again.get_data(as_text=True)


def test_deciding_on_a_held_run_from_its_own_page_reloads_that_page(client, owner, world):
    """Approve on the run's page swapped only the progress card: the header still said Needs review and the change
    log still listed the planned archives until a reload."""
    run = make_run(world["school"], status="needs_review", would_archive=5, rostered_total=10)
    from_page = post(client, f"/runs/{run.id}/discard", {"on": "run"})
    assert from_page.status_code == 200 and from_page.headers.get("HX-Refresh") == "true"
    other = make_run(world["school"], status="needs_review", would_archive=5, rostered_total=10)
    from_index = post(client, f"/runs/{other.id}/discard")
    assert "HX-Refresh" not in from_index.headers
    page = client.get(page_url(f"/runs/{make_run(world['school'], status='needs_review').id}"))
    assert "Planned changes (" in page.get_data(as_text=True)


def test_sync_needs_a_saved_connection(client, owner):
    response = post(client, "/runs", {"trigger": "preview"})
    assert response.status_code == 409 and "no saved SIS connection" in response.get_data(as_text=True)


def test_preview_on_the_sandbox_lists_what_a_sync_would_create(app, client, owner, aeries):
    post(client, "/connection", aeries_values(aeries))
    post(client, "/runs", {"trigger": "preview"})
    SimpleWorker([app.sync_queue], connection=app.redis).work(burst=True)
    run = db.session.scalar(db.select(SyncRun))
    html = client.get(page_url(f"/runs/{run.id}/progress"), headers=HX).get_data(as_text=True)
    db.session.refresh(run)
    assert run.trigger == "preview" and run.status == "succeeded", run.error_message
    assert f"Would create ({run.created})" in html and run.created > 0
    assert db.session.scalar(db.select(db.func.count(Person.id)).where(Person.source_id.is_not(None))) == 0


# Issue 8: one-run archive threshold, held-run wording, per-role rules summary, back-to-school hint.

def held_run(school, **fields) -> SyncRun:
    run = make_run(school, status="needs_review", **fields)
    for n, name in enumerate(("Ada", "Grace", "Alan")):
        make_change(run, "archive", source_id=f"s-{n}", field="given_name", before=name)
    return run


@pytest.mark.parametrize("override, threshold", [(None, "15%"), (5.0, "5%")])
def test_held_run_names_its_share_and_the_threshold_that_applied(client, owner, world, override, threshold):
    make_connection(world["school"], archive_threshold_percent=15)
    run = held_run(world["school"], would_archive=3, rostered_total=7, archive_threshold_override=override)
    sentence = f"This sync tried to archive 3 of 7 rostered people (42.9%), more than the {threshold} threshold"
    for url in (page_url(), page_url(f"/runs/{run.id}"), page_url(f"/runs/{run.id}/progress")):
        html = client.get(url).get_data(as_text=True)
        assert sentence in html, url
        assert "Ada" in html and "Grace" in html and "Alan" in html
        assert "Approve and archive" in html and "Discard this run" in html
    run_page = client.get(page_url(f"/runs/{run.id}")).get_data(as_text=True)
    assert ("5% for this run only" in run_page) == (override is not None)


def test_held_run_says_which_roles_were_not_counted_when_it_was_held(client, owner, world):
    conn = make_connection(world["school"], no_archive_roles="teacher,staff")
    held_run(world["school"], would_archive=3, rostered_total=20, archive_uncounted_roles="staff,teacher")
    conn.no_archive_roles = "student"  # changed after the run was held: the run still says what it counted
    db.session.commit()
    html = client.get(page_url()).get_data(as_text=True)
    assert "tried to archive 3 of 20 rostered people (15%), more than the 10% threshold" in html
    assert "Teachers and Staff are not counted: Archive leaves them alone." in html


def test_sync_now_with_a_one_run_threshold_stores_and_audits_it(client, owner, world):
    make_connection(world["school"])
    page = client.get(page_url()).get_data(as_text=True)
    assert '<label for="threshold-override">For this run only, allow archiving up to (%)</label>' in page
    response = post(client, "/runs", {"trigger": "manual", "threshold_override": " 30 "})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'hx-trigger="every 1s"' in html
    assert 'id="sync-now" hx-swap-oob="true"' in html and 'value=""' in html  # the field empties again
    run = db.session.scalar(db.select(SyncRun))
    assert run.archive_threshold_override == 30 and run.status == "queued"
    audit = db.session.scalar(db.select(AuditEvent).filter_by(action="sync_started"))
    assert "up to 30%" in audit.detail and "saved threshold 10%" in audit.detail


def test_sync_now_without_an_override_uses_the_saved_threshold(client, owner, world):
    make_connection(world["school"])
    response = post(client, "/runs", {"trigger": "manual", "threshold_override": ""})
    assert response.status_code == 200 and "hx-swap-oob" not in response.get_data(as_text=True)
    assert db.session.scalar(db.select(SyncRun)).archive_threshold_override is None
    assert db.session.scalar(db.select(AuditEvent).filter_by(action="sync_started")).detail == "Run #1."


@pytest.mark.parametrize("value", ["abc", "-1", "100.5", "150", "nan", "inf", "1e999", "25%"])
def test_bad_one_run_threshold_is_422_next_to_the_field(client, owner, world, value):
    make_connection(world["school"])
    response = post(client, "/runs", {"trigger": "manual", "threshold_override": value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#sync-now" and response.headers["HX-Reswap"] == "outerHTML"
    assert "<html" not in html and 'id="sync-now"' in html
    assert "Give a percentage from 0 to 100" in html and 'aria-invalid="true"' in html
    assert f'value="{value}"' in html
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0


def test_bad_one_run_threshold_without_javascript_re_renders_the_page(client, owner, world):
    make_connection(world["school"])
    response = post(client, "/runs", {"trigger": "manual", "threshold_override": "-5"}, htmx=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" in html
    assert "Give a percentage from 0 to 100" in html and 'value="-5"' in html
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), ("  ", None), ("0", 0.0), ("100", 100.0),
                                             ("12.5", 12.5), (40, 40.0)])
def test_parse_threshold_override_accepts_0_to_100_or_nothing(value, expected):
    assert parse_threshold_override(value) == expected


@pytest.mark.parametrize("value", ["x", "-0.1", "100.01", "nan", "-inf", float("nan"), [], "1,5"])
def test_parse_threshold_override_refuses_anything_else(value):
    with pytest.raises(InvalidSettings) as caught:
        parse_threshold_override(value)
    assert "from 0 to 100" in caught.value.errors["threshold_override"]


def test_settings_summarise_role_rules(client, owner, world):
    conn = make_connection(world["school"])
    html = client.get(page_url()).get_data(as_text=True)
    assert "Auto update and Archive apply to every role." in html
    conn.no_archive_roles, conn.no_update_roles = "teacher", "staff,teacher"
    db.session.commit()
    html = client.get(page_url()).get_data(as_text=True)
    summary = re.search(r'id="role-rules-summary">(.*?)</p>', html, re.S).group(1)
    assert "Teachers are never auto-updated or archived by sync" in summary
    assert "Staff are never auto-updated by sync" in summary
    assert 'id="rule-update-teacher" name="rule_update_teacher"\n                     aria-label="Auto update changes Teachers">' in html
    assert 'id="rule-archive-student" name="rule_archive_student"\n                     aria-label="Archive removes Students" checked>' in html


SETTINGS_FORM = {"sync_students": "on", "sync_teachers": "on", "sync_time": "02:00", "archive_threshold_percent": "10"}


def test_per_role_rules_are_set_on_the_sync_settings_form(client, owner, world):
    """#17.10: the rules sit on the settings form; an unticked box leaves that role alone, and it is audited."""
    conn = make_connection(world["school"], no_update_roles="staff")
    rules = {"role_rules": "shown", "rule_update_student": "on", "rule_archive_student": "on",
             "rule_update_teacher": "on", "rule_update_staff": "on", "rule_archive_staff": "on",
             "rule_update_school_admin": "on"}
    response = post(client, "/settings", {**SETTINGS_FORM, **rules})
    assert response.status_code == 200 and "Sync settings saved." in response.get_data(as_text=True)
    db.session.expire_all()
    conn = get_connection(world["school"])
    assert (conn.no_update_roles, conn.no_archive_roles) == ("", "teacher,school_admin")
    assert "Teachers are never archived by sync" in response.get_data(as_text=True)
    audit = db.session.scalars(db.select(AuditEvent.detail).order_by(AuditEvent.id.desc())).first()
    assert audit == "Sync rules: Teachers are never archived by sync; School admins are never archived by sync."

    # A form that carries no rules (an older client, the CLI's shape) leaves them as saved.
    post(client, "/settings", SETTINGS_FORM)
    db.session.expire_all()
    assert get_connection(world["school"]).no_archive_roles == "teacher,school_admin"


def test_rejected_settings_keep_the_rules_as_ticked_and_save_none(client, owner, world):
    make_connection(world["school"])
    response = post(client, "/settings", {**SETTINGS_FORM, "sync_time": "99:99", "role_rules": "shown",
                                          "rule_update_student": "on"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'aria-label="Archive removes Students">' in html and 'aria-label="Auto update changes Students" checked>' in html
    db.session.expire_all()
    assert (get_connection(world["school"]).no_update_roles or "") == ""


@pytest.mark.parametrize("today, pause_ends, hinted", [
    (date(2027, 6, 30), [], False),
    (date(2027, 7, 1), [], True),
    (date(2027, 9, 30), [], True),
    (date(2027, 10, 1), [], False),
    (date(2027, 1, 20), [date(2027, 1, 5)], True),      # 15 days after a winter pause
    (date(2027, 1, 26), [date(2027, 1, 5)], True),      # the 21st day
    (date(2027, 1, 27), [date(2027, 1, 5)], False),     # 22 days: too long ago
    (date(2027, 1, 5), [date(2027, 1, 5)], False),      # the pause's own last day
    (date(2027, 11, 2), [date(2027, 12, 20)], False),   # a pause still to come
])
def test_back_to_school_reason(today, pause_ends, hinted):
    assert (back_to_school_reason(today, pause_ends) is not None) is hinted


def test_back_to_school_reason_names_the_pause():
    assert back_to_school_reason(date(2027, 8, 20), [date(2027, 8, 10)]) == "Your seasonal pause ended on Aug 10, 2027"


@pytest.mark.parametrize("today, shown", [(date(2027, 8, 15), True), (date(2027, 11, 15), False)])
def test_back_to_school_hint_sits_by_the_threshold(client, owner, world, monkeypatch, today, shown):
    monkeypatch.setattr("portal.rostering.context.local_today", lambda school: today)
    make_connection(world["school"])
    html = client.get(page_url()).get_data(as_text=True)
    assert ('id="season-hint"' in html) is shown
    if shown:
        hint = re.search(r'id="season-hint"[^>]*>(.*?)</p>', html, re.S).group(1)
        assert "many students leave" in hint and "25%" in hint and "For this run only" in hint


def test_back_to_school_hint_after_a_pause_in_the_settings_partial(client, owner, world, monkeypatch):
    monkeypatch.setattr("portal.rostering.context.local_today", lambda school: date(2027, 1, 12))
    make_connection(world["school"])
    post(client, "/pauses", {"starts_on": "2026-12-20", "ends_on": "2027-01-08"}, htmx=False)
    data = {"sync_students": "on", "sync_time": "02:00", "archive_threshold_percent": "10"}
    html = post(client, "/settings", data).get_data(as_text=True)
    assert "Sync settings saved." in html and "Your seasonal pause ended on Jan 8, 2027" in html


def test_the_history_marks_a_held_runs_and_a_previews_counts_as_planned(client, owner, world):
    """Sync history listed a held run's (and a preview's) creates and updates under Created and Updated as if made."""
    held = make_run(world["school"], status="needs_review", would_archive=20, rostered_total=73, created=2, updated=5)
    preview = make_run(world["school"], trigger="preview", status="succeeded", created=4, archived=3)
    synced = make_run(world["school"], status="succeeded", created=6, updated=1)
    html = client.get(page_url("/runs"), headers=HX).get_data(as_text=True)
    def row(run):
        start = html.index(f"/runs/{run.id}\"")
        return html[start:html.index("</tr>", start)]
    assert "<td>2 <span class=\"muted\">planned</span></td><td>5 <span class=\"muted\">planned</span></td>" in row(held)
    assert "<td>4 <span class=\"muted\">planned</span></td><td>0</td>" in row(preview)
    assert "3 <span class=\"muted\">planned</span>" in row(preview)
    assert "planned" not in row(synced) and "<td>6</td><td>1</td>" in row(synced)
