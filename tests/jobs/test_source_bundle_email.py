"""A district CSV source's bundles in emails (#16): a bundle that was not applied reaches the district's managers,
and a mapped school's run report links each reader to pages they can open."""
from jobs.digest import set_report_choice
from jobs.source_bundles import accept_source_bundle
from store.db import db
from tests.connectors.csv_helpers import MANIFEST_11, ORGS, user_row, users, write_zip
from tests.factories import make_district, make_district_manager, make_school, make_source, map_school
from tests.jobs.test_report import smtp_sink  # noqa: F401 - the fixture: a real SMTP server on a loopback port
from tests.support import opted_in_owner, sync_bundle


def _parts(message) -> dict:
    return {part.get_content_type(): part.get_payload(decode=True).decode() for part in message.walk()
            if not part.is_multipart()}


def _csv_source(district):
    source = make_source(district, name="District CSV", method="csv", vendor="oneroster", url="", client_id="",
                         commit=False)
    source.secret_encrypted = None
    db.session.commit()
    school = make_school(district, name="North High", slug="north-high")
    map_school(school, source, "s1", method="oneroster_csv")
    return source, school


def _bundle(tmp_path, source, users_csv, sync=False):
    path = write_zip(tmp_path / "export.zip", {"manifest.csv": MANIFEST_11, "orgs.csv": ORGS, "users.csv": users_csv})
    return accept_source_bundle(source.id, path, via="sftp", filename="district-export.zip", sync=sync)


def test_a_source_bundle_with_errors_emails_the_managers_who_chose_night_emails(app, bundle_store, tmp_path,
                                                                               smtp_sink):  # noqa: F811
    district = make_district(name="Demo District")
    source, school = _csv_source(district)
    digest, each = make_district_manager(district), make_district_manager(district)
    make_district_manager(district)  # chose no email
    set_report_choice(digest, "digest")
    set_report_choice(each, "each")
    opted_in_owner(school)  # the school's own reports: a district bundle that changed nothing is the managers'
    bundle = _bundle(tmp_path, source, users(user_row("u1"), user_row("u1", given="Twin")))
    assert bundle.status == "invalid"
    assert sorted(rcpt for rcpt, _ in smtp_sink.messages) == sorted([[digest.email], [each.email]])
    message = smtp_sink.messages[0][1]
    assert message["Subject"] == "Rostering: District CSV CSV bundle not applied (district-export.zip)"
    text, html = _parts(message)["text/plain"], _parts(message)["text/html"]
    assert "Nothing was changed in the directory." in text and "- error: users.csv, line 3, column sourcedId:" in text
    page = f"http://127.0.0.1:5000/districts/{district.id}/sources/{source.id}"
    assert f"{page}/bundles/{bundle.id}/report.csv" in text and f'href="{page}#csv-heading"' in html
    assert "you chose email after district nights" in text


def test_a_refused_source_bundle_emails_the_managers_too(app, bundle_store, tmp_path, smtp_sink):  # noqa: F811
    district = make_district()
    source, _ = _csv_source(district)
    manager = make_district_manager(district)
    set_report_choice(manager, "digest")
    path = tmp_path / "not-a-zip.zip"
    path.write_bytes(b"this is not a zip file")
    bundle = accept_source_bundle(source.id, str(path), via="upload", filename="not-a-zip.zip")
    assert bundle.status == "refused"
    (recipients, message), = smtp_sink.messages
    assert recipients == [manager.email] and "not applied (not-a-zip.zip)" in message["Subject"]


def test_a_mapped_schools_run_report_links_owners_to_their_school_and_managers_to_the_source(
        app, bundle_store, tmp_path, smtp_sink):  # noqa: F811
    district = make_district()
    source, school = _csv_source(district)
    owner = opted_in_owner(school)
    manager = make_district_manager(district)
    set_report_choice(manager, "each")
    # a warning (an org orgs.csv lacks) puts the validation report, and its link, in the run report
    bundle = _bundle(tmp_path, source, users(user_row("u1"), user_row("u2", org="s1,gone")))
    assert bundle.status == "valid" and bundle.warning_count == 1
    run = sync_bundle(school, bundle)
    assert run.status == "succeeded" and run.report_status == "sent"
    texts = {rcpt[0]: _parts(message) for rcpt, message in smtp_sink.messages}
    source_page = f"http://127.0.0.1:5000/districts/{district.id}/sources/{source.id}"
    owner_text, owner_html = texts[owner.email]["text/plain"], texts[owner.email]["text/html"]
    assert source_page not in owner_text and source_page not in owner_html  # an owner gets 403 there
    assert "whole report on the district source's page" in owner_text
    assert f"http://127.0.0.1:5000/schools/{school.slug}/rostering/runs/{run.id}" in owner_text
    assert f"{source_page}/bundles/{bundle.id}/report.csv" in texts[manager.email]["text/plain"]


def test_an_owners_run_report_does_not_quote_the_district_bundle_about_other_schools(
        app, bundle_store, tmp_path, smtp_sink):  # noqa: F811
    """The first problems of the district's validation report and its summary went into a mapped school's owner
    report: a warning naming another school's user and the other schools not synced, while an
    owner of another school gets 404 for those."""
    district = make_district()
    source, school = _csv_source(district)
    south = make_school(district, name="South High", slug="south-high")
    map_school(south, source, "s2", method="oneroster_csv")
    east = make_school(district, name="East Elementary", slug="east")  # not in orgs.csv: the summary names it
    map_school(east, source, "s9", method="oneroster_csv")
    owner = opted_in_owner(school)
    manager = make_district_manager(district)
    set_report_choice(manager, "each")
    rows = users(user_row("u1"), user_row("south-kid", role="janitor", org="s2"))
    bundle = _bundle(tmp_path, source, rows)
    assert bundle.status == "valid" and "East Elementary" in bundle.summary
    assert sync_bundle(school, bundle).report_status == "sent"
    texts = {rcpt[0]: _parts(message) for rcpt, message in smtp_sink.messages}
    owner_text, owner_html = texts[owner.email]["text/plain"], texts[owner.email]["text/html"]
    for body in (owner_text, owner_html):
        assert "south-kid" not in body and "South High" not in body and "East Elementary" not in body
    assert "Valid: OneRoster 1.1, full roster (bulk), 1 warning." in owner_text
    assert "1 problem" in owner_text and "whole report on the district source's page" in owner_text
    manager_text = next(parts["text/plain"] for rcpt, parts in texts.items() if rcpt == manager.email and
                        "North High" in parts["text/plain"])
    assert "User south-kid has 'janitor'" in manager_text  # the District Manager's own copy keeps the report


def test_a_failed_run_of_a_school_on_a_csv_source_sends_each_reader_to_who_can_fix_it(
        app, bundle_store, tmp_path, smtp_sink):  # noqa: F811
    """The owner was told to check the School ID on the Rostering page, which a mapped school's page neither shows nor
    lets them change (the mapping is the District Managers', on the source's page)."""
    district = make_district()
    source, _north = _csv_source(district)
    east = make_school(district, name="East Elementary", slug="east")  # mapped to an org orgs.csv does not list
    map_school(east, source, "s9", method="oneroster_csv")
    owner = opted_in_owner(east)
    manager = make_district_manager(district)
    set_report_choice(manager, "each")
    bundle = _bundle(tmp_path, source, users(user_row("u1")))
    run = sync_bundle(east, bundle)
    assert (run.status, run.report_status) == ("failed", "sent")
    texts = {rcpt[0]: _parts(message)["text/plain"] for rcpt, message in smtp_sink.messages}
    owner_text, manager_text = " ".join(texts[owner.email].split()), " ".join(texts[manager.email].split())
    assert ('East Elementary takes its roster from the district\'s OneRoster CSV source "District CSV": its District '
            "Managers see each bundle's validation report and this school's mapping") in owner_text
    assert "on the Rostering page" not in owner_text
    source_page = f"http://127.0.0.1:5000/districts/{district.id}/sources/{source.id}"
    assert f'Open the source "District CSV" on the district\'s Sources page ({source_page})' in manager_text
    assert "Check that this school's mapping on that page names its sourcedId in orgs.csv." in manager_text
