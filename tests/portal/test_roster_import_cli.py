"""`flask roster import`: a bundle validated and synced inline; exit codes like `roster sync`."""
import json
import os

import pytest

from store.db import db
from store.models import RosterBundle, SyncRun
from tests.connectors.csv_helpers import bundle_files, user_row, users, write_dir, write_zip
from tests.factories import make_connection, make_csv_connection, make_school
from tests.support import people


@pytest.fixture
def school(app, bundle_store):
    school = make_school(slug="csv-cli")
    make_csv_connection(school)
    return school


def _import(runner, path, *flags, slug="csv-cli"):
    return runner.invoke(args=["roster", "import", "--school", slug, str(path), *flags])


def test_import_syncs_a_zip_and_leaves_the_file_in_place(runner, school, tmp_path):
    path = write_zip(tmp_path / "export.zip", bundle_files(users_csv=users(user_row("u1"), user_row("u2"))))
    result = _import(runner, path)
    assert result.exit_code == 0, result.output
    assert f"Sync #1 of {school.name}: succeeded." in result.output and "created 2" in result.output
    assert (tmp_path / "export.zip").exists()
    assert [p[0] for p in people(school)] == ["u1", "u2"]
    bundle = db.session.scalar(db.select(RosterBundle))
    assert (bundle.via, bundle.status, bundle.run_id) == ("cli", "synced", 1)


def test_preview_json_writes_nothing(runner, school, tmp_path):
    folder = write_dir(tmp_path / "drop", bundle_files())
    result = _import(runner, folder, "--preview", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["status"] == "succeeded" and data["preview"] is True and data["created"] == 1
    assert data["bundle_status"] == "valid" and data["bundle_errors"] == 0
    assert people(school) == []
    assert db.session.get(SyncRun, data["run_id"]).trigger == "preview"


def test_a_bundle_with_errors_exits_1_with_the_report_and_changes_nothing(runner, school, tmp_path):
    path = write_zip(tmp_path / "bad.zip", bundle_files(orgs_csv=None))
    result = _import(runner, path)
    assert result.exit_code == 1
    assert "Bundle 1 invalid" in result.output and "error: orgs.csv" in result.output
    as_json = json.loads(_import(runner, path, "--json").output)
    assert as_json["status"] == "invalid" and as_json["problems"][0]["file"] == "orgs.csv"
    assert people(school) == [] and db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0


def test_a_refused_bundle_exits_1(runner, school, tmp_path):
    path = tmp_path / "fake.zip"
    path.write_bytes(b"this is not a zip")
    result = _import(runner, path)
    assert result.exit_code == 1 and "not a zip archive" in result.output


def test_a_school_on_the_api_method_is_told_to_switch(runner, app, bundle_store, tmp_path):
    api = make_school(slug="api-high")
    make_connection(api)
    path = write_zip(tmp_path / "export.zip", bundle_files())
    result = _import(runner, path, slug="api-high")
    assert result.exit_code == 1 and "does not sync from OneRoster CSV" in result.output
    unknown = _import(runner, path, slug="nope")
    assert unknown.exit_code == 2 and "No school with the slug 'nope'" in unknown.output
    missing = _import(runner, tmp_path / "missing.zip")
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_configure_csv_puts_a_school_on_the_csv_method(runner, app, bundle_store, tmp_path):
    from jobs.connection import get_connection
    school = make_school(slug="csv-new")
    done = runner.invoke(args=["roster", "configure-csv", "--school", "csv-new", "--sis-school-id", "s1",
                               "--on-receipt", "nightly"])
    assert done.exit_code == 0 and "synced at the nightly time" in done.output
    conn = get_connection(school)
    assert (conn.method, conn.sis_school_id, conn.csv_sync_on_receipt) == ("oneroster_csv", "s1", "nightly")
    assert _import(runner, write_zip(tmp_path / "e.zip", bundle_files()), slug="csv-new").exit_code == 0
    bad = runner.invoke(args=["roster", "configure-csv", "--school", "csv-new", "--sis-school-id", "a\nb"])
    assert bad.exit_code == 2 and "--sis-school-id: Give the school's sourcedId" in bad.output


def test_a_folder_holding_the_export_in_a_sub_folder_is_read_from_it(runner, school, tmp_path):
    """It said "manifest.csv is missing": only the named folder's own files were copied in."""
    (tmp_path / "exports" / "oneroster").mkdir(parents=True)
    write_dir(tmp_path / "exports" / "oneroster" / "2026-02-01", bundle_files())
    result = _import(runner, tmp_path / "exports")
    assert result.exit_code == 0, result.output
    assert [p[0] for p in people(school)] == ["u1"]


def test_a_folder_of_several_folders_says_which_to_give(runner, school, tmp_path):
    (tmp_path / "exports").mkdir()
    for day in ("2026-02-01", "2026-02-02"):
        write_dir(tmp_path / "exports" / day, bundle_files())
    result = _import(runner, tmp_path / "exports")
    assert result.exit_code == 2
    assert "holds no CSV files, only the folders 2026-02-01, 2026-02-02" in result.output
    assert db.session.scalar(db.select(db.func.count(RosterBundle.id))) == 0 and people(school) == []


def _disk_used(folder) -> int:
    return sum(os.lstat(os.path.join(top, name)).st_blocks * 512 for top, _, names in os.walk(folder) for name in names)


def test_a_folder_is_copied_in_without_what_the_reader_ignores_or_refuses(runner, school, bundle_store, tmp_path):
    """FILE may be a Downloads folder: a 200 MB video beside the export used to be copied into bundle storage (and
    kept there 30 days), and so were thousands of files the bundle is then refused for."""
    write_dir(tmp_path / "export", bundle_files())
    with open(tmp_path / "export" / "lesson.mp4", "wb") as video:
        video.write(os.urandom(1024) * (200 * 1024))
    result = _import(runner, tmp_path / "export")
    assert result.exit_code == 0, result.output
    assert [p[0] for p in people(school)] == ["u1"]
    assert _disk_used(bundle_store) < 10 * 1024 * 1024
    (bundle,) = db.session.scalars(db.select(RosterBundle))
    assert "lesson.mp4 is not a CSV file and is ignored" in bundle.report_csv

    write_dir(tmp_path / "downloads", bundle_files())
    for n in range(3000):
        (tmp_path / "downloads" / f"note{n}.csv").write_text("a\n")
    result = _import(runner, tmp_path / "downloads")
    assert result.exit_code == 1 and "The folder holds more than the 200 files allowed" in result.output
    assert sum(len(names) for _, _, names in os.walk(bundle_store)) < 250
    assert [p[0] for p in people(school)] == ["u1"]


def test_a_users_csv_that_is_a_folder_is_named_so(runner, school, tmp_path):
    write_dir(tmp_path / "export", bundle_files(users_csv=None))
    (tmp_path / "export" / "users.csv").mkdir()
    result = _import(runner, tmp_path / "export")
    assert result.exit_code == 1 and "The bundle has a folder named users.csv, not a file" in result.output
    assert people(school) == []


def test_a_preview_says_when_the_real_run_would_be_held_and_exits_1(runner, app, bundle_store, tmp_path):
    school = make_school(slug="csv-cli")
    make_csv_connection(school, archive=True, archive_threshold_percent=10.0)
    ten = [user_row(f"u{i}") for i in range(10)]
    assert _import(runner, write_zip(tmp_path / "all.zip", bundle_files(users_csv=users(*ten)))).exit_code == 0
    half = write_zip(tmp_path / "half.zip", bundle_files(users_csv=users(*ten[:5])))
    result = _import(runner, half, "--preview")
    assert result.exit_code == 1, result.output
    assert "archived 5" in result.output
    assert "A sync now would try to archive 5 of 10 rostered people (50%), more than the 10% threshold, so it " \
           "would be held for review" in result.output
    data = json.loads(_import(runner, half, "--preview", "--json").output)
    assert (data["status"], data["would_be_held"], data["would_archive"]) == ("succeeded", True, 5)
    assert [p[3] for p in people(school)] == ["active"] * 10  # a preview writes nothing
    one_gone = write_zip(tmp_path / "nine.zip", bundle_files(users_csv=users(*ten[:9])))
    within = json.loads(_import(runner, one_gone, "--preview", "--json").output)
    assert (within["would_be_held"], within["would_archive"], within["error"]) == (False, 1, "")


def test_a_valid_bundles_warnings_are_printed_and_in_the_json(runner, school, tmp_path):
    odd = users(user_row("u1"), user_row("u2", role="Sub Teacher"))
    path = write_zip(tmp_path / "warn.zip", bundle_files(users_csv=odd))
    result = _import(runner, path, "--preview")
    assert result.exit_code == 0, result.output
    assert "warning: users.csv line 3 column role:" in result.output
    data = json.loads(_import(runner, path, "--preview", "--json").output)
    assert any(row["severity"] == "warning" and row["line"] == "3" for row in data["problems"])


DELTA = "propertyName,value\noneroster.version,1.1\nfile.orgs,bulk\nfile.users,delta\n"


@pytest.mark.parametrize("archive, status", [(True, "archived"), (False, "active")])
def test_a_delta_that_moves_a_student_to_another_school_archives_them_here(runner, app, bundle_store, tmp_path,
                                                                         archive, status):
    """A delta row naming only another school is the student's whole record: they left this one. Kept active, a
    school fed only deltas kept them for ever; with Archive off they are kept, and the run says why."""
    school = make_school(slug="csv-cli")
    make_csv_connection(school, archive=archive, auto_update=True)
    everyone = [user_row(f"u{i}") for i in range(20)]
    assert _import(runner, write_zip(tmp_path / "all.zip", bundle_files(users_csv=users(*everyone)))).exit_code == 0
    moved = users(user_row("u7", org="s2", status="active"), user_row("u8", status="active", given="Renamed"))
    data = json.loads(_import(runner, write_zip(tmp_path / "delta.zip", bundle_files(users_csv=moved,
                                                                                    manifest_csv=DELTA)),
                              "--json").output)
    assert data["status"] == "succeeded" and data["archived"] == (1 if archive else 0)
    found = {p[0]: p for p in people(school)}
    assert found["u7"][3] == status and found["u8"][1:] == ("Renamed", "Smith", "active")
    assert [p[0] for p in people(school) if p[3] != "active"] == (["u7"] if archive else [])


def test_a_delta_whose_manifest_says_orgs_absent_is_read_with_the_saved_school_id(runner, app, bundle_store, tmp_path):
    """No org changed since the last export, so a conforming delta sends no orgs.csv and says file.orgs,absent; it
    was refused as "a people sync needs orgs.csv". A bulk users.csv still needs it (a mistyped School ID would
    archive everyone)."""
    school = make_school(slug="csv-cli")
    make_csv_connection(school, archive=True)
    assert _import(runner, write_zip(tmp_path / "all.zip", bundle_files(users_csv=users(
        *[user_row(f"u{i}") for i in range(20)])))).exit_code == 0
    absent = "propertyName,value\noneroster.version,1.1\nfile.orgs,absent\nfile.users,delta\n"
    gone = users(user_row("u3", status="tobedeleted"))
    result = _import(runner, write_zip(tmp_path / "d.zip", bundle_files(users_csv=gone, manifest_csv=absent,
                                                                         orgs_csv=None)), "--json")
    data = json.loads(result.output)
    assert result.exit_code == 0 and data["archived"] == 1, result.output
    assert [p[0] for p in people(school) if p[3] != "active"] == ["u3"]
    bulk = "propertyName,value\noneroster.version,1.1\nfile.orgs,absent\nfile.users,bulk\n"
    refused = _import(runner, write_zip(tmp_path / "b.zip", bundle_files(manifest_csv=bulk, orgs_csv=None)))
    assert refused.exit_code == 1 and "The manifest says orgs.csv is absent, but a people sync needs it" in \
        refused.output
