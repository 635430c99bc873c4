"""The OneRoster CSV method on the Rostering page: choose it, upload, read the validation report, preview, sync."""
import io
import re
import zipfile

import pytest
from rq import SimpleWorker

from jobs.connection import get_connection
from store.db import db
from store.models import AuditEvent, RosterBundle, SyncRun
from tests.connectors.csv_helpers import MANIFEST_11, ORGS, bundle_files, user_row, users, zip_bytes
from tests.factories import make_bundle, make_csv_connection, make_district_manager, make_owner, make_school
from tests.support import csrf_token, people, text


@pytest.fixture
def school(app, bundle_store):
    school = make_school(slug="csv-high")
    make_owner(school, email="owner@csv.example.org")
    return school


def _page(client, school):
    return client.get(f"/schools/{school.slug}/rostering")


def _upload(client, school, *files, token=None):
    token = token or csrf_token(client, f"/schools/{school.slug}/rostering")
    data = {"csrf_token": token, "bundle": [(io.BytesIO(content), name) for name, content in files]}
    return client.post(f"/schools/{school.slug}/rostering/bundles", data=data, content_type="multipart/form-data")


def _work(app, queue="check"):
    queues = {"check": [app.check_queue], "sync": [app.sync_queue]}[queue]
    SimpleWorker(queues, connection=app.redis).work(burst=True)
    db.session.expire_all()


def rostered(school):
    return [p for p in people(school) if p[0]]  # the owner was made by hand


def _latest_bundle(school):
    return db.session.scalar(db.select(RosterBundle).where(RosterBundle.school_id == school.id)
                             .order_by(RosterBundle.id.desc()))


def test_choosing_the_csv_method_saves_it_and_shows_the_upload(app, client, auth, school):
    auth.login("owner@csv.example.org")
    menu = client.get(f"/schools/{school.slug}/rostering/method?method=oneroster_csv", headers={"HX-Request": "true"})
    assert "School ID" in text(menu) and "When a bundle arrives over SFTP" in text(menu)
    token = csrf_token(client, f"/schools/{school.slug}/rostering")
    saved = client.post(f"/schools/{school.slug}/rostering/csv-connection",
                        data={"csrf_token": token, "sis_school_id": "s1", "csv_sync_on_receipt": "nightly"})
    assert saved.status_code == 302
    conn = get_connection(school)
    assert (conn.method, conn.sis_school_id, conn.csv_sync_on_receipt) == ("oneroster_csv", "s1", "nightly")
    page = text(_page(client, school))
    assert "Upload a bundle" in page and "No bundles received yet" in page
    assert "waits for the nightly sync, but Automatic Rostering is off" in page
    assert db.session.scalar(db.select(AuditEvent.detail).where(AuditEvent.action == "settings_changed")) \
        .startswith("Method: OneRoster CSV, school s1")


@pytest.mark.parametrize("school_id", ["\u202e" * 5, "s1\u200b", "s1\tx", "s1\nx"])
def test_a_school_id_with_control_or_invisible_characters_is_refused(app, client, auth, school, school_id):
    """Right-to-left overrides were saved and then shown in every bundle report."""
    auth.login("owner@csv.example.org")
    token = csrf_token(client, f"/schools/{school.slug}/rostering")
    refused = client.post(f"/schools/{school.slug}/rostering/csv-connection",
                          data={"csrf_token": token, "sis_school_id": school_id, "csv_sync_on_receipt": "now"})
    assert refused.status_code == 422 and "no invisible characters" in text(refused)
    assert get_connection(school) is None


def test_a_bad_receipt_choice_is_refused_next_to_the_field(app, client, auth, school):
    auth.login("owner@csv.example.org")
    token = csrf_token(client, f"/schools/{school.slug}/rostering")
    refused = client.post(f"/schools/{school.slug}/rostering/csv-connection",
                          data={"csrf_token": token, "sis_school_id": "s1", "csv_sync_on_receipt": "hourly"})
    assert refused.status_code == 422
    assert "Choose whether a received bundle is synced at once or at the nightly time." in text(refused)
    assert get_connection(school) is None


def test_upload_validate_preview_sync_end_to_end(app, client, auth, school):
    make_csv_connection(school)
    auth.login("owner@csv.example.org")
    roster = users(user_row("u1", given="Ada"), user_row("u2", given="Ben"), user_row("t1", role="teacher"))
    uploaded = _upload(client, school, ("export.zip", zip_bytes(bundle_files(users_csv=roster))))
    assert uploaded.status_code == 302
    checking = text(_page(client, school))
    assert "Checking the files" in checking and rostered(school) == []
    _work(app)
    bundle = _latest_bundle(school)
    assert bundle.status == "valid"
    page = text(_page(client, school))
    assert "Valid: OneRoster 1.1, full roster (bulk)." in page and "Preview this bundle" in page
    token = csrf_token(client, f"/schools/{school.slug}/rostering")
    preview = client.post(f"/schools/{school.slug}/rostering/bundles/{bundle.id}/runs",
                          data={"csrf_token": token, "trigger": "preview"}, headers={"HX-Request": "true"})
    assert preview.status_code == 200
    _work(app, "sync")
    run = db.session.scalar(db.select(SyncRun).order_by(SyncRun.id.desc()))
    assert (run.trigger, run.status, run.created, run.bundle_id) == ("preview", "succeeded", 3, bundle.id)
    assert rostered(school) == []  # a preview writes nothing
    # Sync now on the Sync card reads the newest valid bundle.
    started = client.post(f"/schools/{school.slug}/rostering/runs", data={"csrf_token": token, "trigger": "manual"})
    assert started.status_code == 302
    _work(app, "sync")
    run = db.session.scalar(db.select(SyncRun).order_by(SyncRun.id.desc()))
    assert (run.trigger, run.status, run.created, run.bundle_id) == ("manual", "succeeded", 3, bundle.id)
    assert sorted(p[1] for p in rostered(school)) == ["Ada", "Ben", "Zoe"]
    assert db.session.get(RosterBundle, bundle.id).status == "synced"
    listed = text(_page(client, school))
    assert "Synced" in listed and f"#{run.id}" in listed


def test_the_csv_files_themselves_can_be_uploaded(app, client, auth, school):
    make_csv_connection(school)
    auth.login("owner@csv.example.org")
    files = [(name, content.encode()) for name, content in bundle_files().items()]
    assert _upload(client, school, *files).status_code == 302
    _work(app)
    bundle = _latest_bundle(school)
    assert bundle.status == "valid" and bundle.filename.startswith("3 CSV files")
    download = client.get(f"/schools/{school.slug}/rostering/bundles/{bundle.id}/download")
    assert download.status_code == 200
    assert sorted(zipfile.ZipFile(io.BytesIO(download.data)).namelist()) == ["manifest.csv", "orgs.csv", "users.csv"]


def test_a_bundle_with_errors_shows_where_and_what_to_do_and_changes_nothing(app, client, auth, school):
    make_csv_connection(school)
    auth.login("owner@csv.example.org")
    broken = users(user_row("u1"), user_row("u1", given="Twin"), user_row("u3", org="nowhere"))
    _upload(client, school, ("export.zip", zip_bytes(bundle_files(users_csv=broken))))
    _work(app)
    bundle = _latest_bundle(school)
    assert bundle.status == "invalid"
    page = text(_page(client, school))
    assert "to fix before this bundle can be synced; nothing was changed" in page
    assert "users.csv" in page and "What to do" in page and "Preview this bundle" not in page
    report = client.get(f"/schools/{school.slug}/rostering/bundles/{bundle.id}/report.csv")
    assert report.headers["Content-Type"].startswith("text/csv")
    lines = report.get_data(as_text=True).splitlines()
    assert lines[0] == "severity,file,line,column,problem,what_to_do"
    assert any(line.startswith("error,users.csv,3,sourcedId") for line in lines), lines
    token = csrf_token(client, f"/schools/{school.slug}/rostering")
    refused = client.post(f"/schools/{school.slug}/rostering/bundles/{bundle.id}/runs",
                          data={"csrf_token": token, "trigger": "manual"}, headers={"HX-Request": "true"})
    assert refused.status_code == 409 and "No valid OneRoster CSV bundle" in text(refused)
    assert rostered(school) == [] and db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0


def test_a_school_id_naming_the_district_org_is_refused_on_the_page_and_nobody_is_added(app, client, auth, school):
    """The district's row of orgs.csv as School ID: accepted, this school got every user of the district."""
    make_csv_connection(school, sis_school_id="d1")
    auth.login("owner@csv.example.org")
    district_wide = users(user_row("u1", org="s1,d1"), user_row("u2", org="s2,d1"))
    _upload(client, school, ("export.zip", zip_bytes(bundle_files(users_csv=district_wide))))
    _work(app)
    assert _latest_bundle(school).status == "invalid"
    page = text(_page(client, school))
    assert "The School ID d1 is North District in orgs.csv, an org of type district, not a school" in page
    assert "The schools in orgs.csv are: s1 (North High), s2 (South High)." in page
    assert "Enter the sourcedId of the school itself (an orgs.csv row of type school) as the School ID" in page
    assert rostered(school) == [] and db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0


@pytest.mark.parametrize("name, content, says", [
    ("bomb.zip", None, "possible zip bomb"),
    ("evil.zip", None, "points outside the bundle"),
    ("binary.zip", b"\x00\x01\x02binary" * 100, "not a zip archive"),
    ("cut.zip", None, "cut off"),
])
def test_hostile_uploads_are_refused_with_a_clear_message(app, client, auth, school, name, content, says):
    make_csv_connection(school)
    auth.login("owner@csv.example.org")
    if name == "bomb.zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.csv", MANIFEST_11)
            zf.writestr("orgs.csv", ORGS)
            zf.writestr("users.csv", b"0" * (50 * 1024 * 1024))
        content = buffer.getvalue()
    elif name == "evil.zip":
        content = zip_bytes({"../../etc/users.csv": "x", "manifest.csv": MANIFEST_11})
    elif name == "cut.zip":
        whole = zip_bytes(bundle_files())
        content = whole[: len(whole) // 2]
    assert _upload(client, school, (name, content)).status_code == 302
    _work(app)
    bundle = _latest_bundle(school)
    assert bundle.status == "refused"
    page = _page(client, school)
    assert page.status_code == 200 and says in text(page) and "Refused" in text(page)
    assert rostered(school) == []


def test_a_file_that_is_neither_zip_nor_csv_is_refused_on_the_page(app, client, auth, school):
    make_csv_connection(school)
    auth.login("owner@csv.example.org")
    refused = _upload(client, school, ("roster.xlsx", b"PK\x03\x04 spreadsheet"))
    assert refused.status_code == 422
    assert "roster.xlsx is neither a .zip nor a .csv file" in text(refused)
    nothing = _upload(client, school)
    assert nothing.status_code == 422 and "Choose the zip the SIS exported" in text(nothing)
    assert db.session.scalar(db.select(db.func.count(RosterBundle.id))) == 0


def test_an_upload_over_the_limit_gets_413_with_what_to_do(app, client, auth, school):
    make_csv_connection(school)
    app.config["BUNDLE_MAX_UPLOAD_BYTES"] = 64 * 1024
    auth.login("owner@csv.example.org")
    too_big = _upload(client, school, ("export.zip", b"x" * (128 * 1024)))
    assert too_big.status_code == 413
    assert "larger than 500 MB" in text(too_big) and "SFTP" in text(too_big)
    assert db.session.scalar(db.select(db.func.count(RosterBundle.id))) == 0
    # Other forms keep the default limit: the cap only applies to the upload.
    assert app.config["MAX_CONTENT_LENGTH"] is None


def test_another_schools_bundle_is_404(app, client, auth, school):
    other = make_school()
    theirs = make_bundle(other)
    auth.login("owner@csv.example.org")
    for path in ("", "/report.csv", "/download"):
        assert client.get(f"/schools/{school.slug}/rostering/bundles/{theirs.id}{path}").status_code == 404
    token = csrf_token(client, f"/schools/{school.slug}/rostering")
    assert client.post(f"/schools/{school.slug}/rostering/bundles/{theirs.id}/runs",
                       data={"csrf_token": token, "trigger": "manual"}).status_code == 404


def test_report_csv_cells_cannot_run_as_formulas(app, client, auth, school):
    bundle = make_bundle(school, status="invalid",
                         report_csv="severity,file,line,column,problem,what_to_do\r\nerror,users.csv,2,email,"
                                    "=HYPERLINK(\"x\"),Fix it\r\n")
    auth.login("owner@csv.example.org")
    body = client.get(f"/schools/{school.slug}/rostering/bundles/{bundle.id}/report.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in body and re.search(r"^error,users.csv,2,email", body, re.M)


def test_the_overview_counts_a_csv_school_as_connected(app, client, auth, school):
    make_csv_connection(school)
    manager = make_district_manager(school.district)
    auth.login(manager.email)
    overview = text(client.get("/district/rostering", follow_redirects=True))
    assert school.name in overview and "Not connected" not in overview


def test_with_the_queue_down_the_upload_is_checked_in_the_request(app, client, auth, school, monkeypatch):
    from redis.exceptions import ConnectionError as RedisDown

    def down(*args, **kwargs):
        raise RedisDown("queue unreachable")
    make_csv_connection(school)
    auth.login("owner@csv.example.org")
    monkeypatch.setattr(app.check_queue, "enqueue", down)
    assert _upload(client, school, ("export.zip", zip_bytes(bundle_files()))).status_code == 302
    db.session.expire_all()
    assert _latest_bundle(school).status == "valid"
    assert "Valid: OneRoster 1.1" in text(_page(client, school))


def test_the_list_says_what_happened_to_each_bundle(app, client, auth, school):
    make_csv_connection(school)
    make_bundle(school, via="sftp", status="refused", filename="part.zip", report_csv="",
                summary="The transfer of part.zip was cut off midway; it was discarded. Send the file again.")
    auth.login("owner@csv.example.org")
    listed = text(client.get(f"/schools/{school.slug}/rostering/bundles", headers={"HX-Request": "true"}))
    assert "part.zip" in listed and "SFTP" in listed and "Refused" in listed
    assert "was cut off midway; it was discarded" in listed


def test_the_method_menu_works_without_javascript(app, client, auth, school):
    auth.login("owner@csv.example.org")
    api = text(_page(client, school))
    assert "Use OneRoster CSV instead" in api and "Save connection" in api
    csv_form = text(client.get(f"/schools/{school.slug}/rostering?method=oneroster_csv"))
    assert "Save method" in csv_form and "Use the OneRoster API instead" in csv_form
    make_csv_connection(school)
    back = text(client.get(f"/schools/{school.slug}/rostering?method=oneroster"))
    assert "Save connection" in back and "Save method" not in back


def test_a_preview_the_guard_would_hold_says_so_on_its_page(app, client, auth, school):
    make_csv_connection(school, archive=True, archive_threshold_percent=10.0)
    auth.login("owner@csv.example.org")
    ten = [user_row(f"u{i}") for i in range(10)]
    _upload(client, school, ("all.zip", zip_bytes(bundle_files(users_csv=users(*ten)))))
    _work(app)
    token = csrf_token(client, f"/schools/{school.slug}/rostering")
    client.post(f"/schools/{school.slug}/rostering/runs", data={"csrf_token": token, "trigger": "manual"})
    _work(app, "sync")
    assert len(rostered(school)) == 10
    _upload(client, school, ("four.zip", zip_bytes(bundle_files(users_csv=users(*ten[:4])))))
    _work(app)
    client.post(f"/schools/{school.slug}/rostering/bundles/{_latest_bundle(school).id}/runs",
                data={"csrf_token": token, "trigger": "preview"}, headers={"HX-Request": "true"})
    _work(app, "sync")
    run = db.session.scalar(db.select(SyncRun).order_by(SyncRun.id.desc()))
    assert (run.trigger, run.status, run.would_hold, run.would_archive) == ("preview", "succeeded", True, 6)
    page = text(client.get(f"/schools/{school.slug}/rostering/runs/{run.id}"))
    assert "Preview only: nothing was changed." in page
    assert "Read from the CSV bundle" in page and "Read from the SIS" not in page  # a bundle run reads no SIS
    assert "A sync now would try to archive 6 of 10 rostered people (60%), more than the 10% threshold, so it " \
           "would be held for review" in page
    assert [p[3] for p in rostered(school)] == ["active"] * 10
