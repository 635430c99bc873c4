"""The CSV bundle in emails: a bundle that was not applied is reported, and a bundle run's report names it."""
from jobs.bundles import accept_bundle
from store.db import db
from store.vocabulary import moment_text
from tests.connectors.csv_helpers import bundle_files, user_row, users, write_zip
from tests.factories import make_csv_connection, make_school
from tests.jobs.test_report import smtp_sink  # noqa: F401 - the fixture: a real SMTP server on a loopback port
from tests.support import opted_in_owner, sync_bundle


def _parts(message) -> dict:
    return {part.get_content_type(): part.get_payload(decode=True).decode() for part in message.walk()
            if not part.is_multipart()}


def test_a_bundle_with_errors_is_emailed_with_the_report(app, bundle_store, tmp_path, smtp_sink):  # noqa: F811
    school = make_school()
    owner = opted_in_owner(school)
    make_csv_connection(school)
    broken = users(user_row("u1"), user_row("u1", given="Twin"))
    bundle = accept_bundle(school.id, write_zip(tmp_path / "x.zip", bundle_files(users_csv=broken)), via="sftp",
                           filename="nightly-export.zip")
    assert bundle.status == "invalid"
    (recipients, message), = smtp_sink.messages
    assert recipients == [owner.email]
    assert message["Subject"] == f"Rostering: {school.name} CSV bundle not applied (nightly-export.zip)"
    text, html = _parts(message)["text/plain"], _parts(message)["text/html"]
    assert "Nothing was changed in the directory." in text
    local = bundle.received_at.astimezone(school.district.zone)  # as the run report and every page word a time
    assert f"Received:  {moment_text(local)} {local:%Z}" in text and f"<td>{moment_text(local)} {local:%Z}</td>" in html
    assert "- error: users.csv, line 3, column sourcedId:" in text
    link = f"http://127.0.0.1:5000/schools/{school.slug}/rostering/bundles/{bundle.id}/report.csv"
    assert link in text and f'href="{link}"' in html


def test_a_valid_bundle_sends_no_bundle_email_and_its_run_report_names_it(app, bundle_store, tmp_path,
                                                                          smtp_sink):  # noqa: F811
    school = make_school()
    opted_in_owner(school)
    make_csv_connection(school)
    bundle = accept_bundle(school.id, write_zip(tmp_path / "x.zip", bundle_files()), via="upload",
                           filename="export.zip", sync=False)
    assert smtp_sink.messages == []
    run = sync_bundle(school, bundle)
    assert run.status == "succeeded" and run.report_status == "sent"
    (_, message), = smtp_sink.messages
    assert "CSV bundle: export.zip (Valid: OneRoster 1.1, full roster (bulk).)" in _parts(message)["text/plain"]


def test_a_failed_bundle_run_says_what_to_check_for_csv(app, bundle_store, tmp_path, smtp_sink):  # noqa: F811
    school = make_school()
    opted_in_owner(school)
    conn = make_csv_connection(school)
    bundle = accept_bundle(school.id, write_zip(tmp_path / "x.zip", bundle_files()), via="upload",
                           filename="export.zip", sync=False)
    conn.sis_school_id = "s2-gone"  # the school changed its id after the bundle was checked
    db.session.commit()
    run = sync_bundle(school, bundle)
    assert run.status == "failed" and "s2-gone is not in orgs.csv" in run.error_message
    text = _parts(smtp_sink.messages[0][1])["text/plain"]
    assert "School ID on the Rostering page is this school's sourcedId in orgs.csv" in text
    assert "Test connection" not in text
