"""`flask roster import --source ID|NAME FILE`: a district CSV source's bundle from a script (#16), checked once,
every mapped school it lists synced (one night of the source) or previewed; exit codes like `roster import`."""
import json

import pytest

from jobs.source_bundles import accept_source_bundle
from store.db import db
from store.models import RosterConnection, Source, SourceNight, SyncRun
from tests.connectors.csv_helpers import bundle_files, user_row, users, write_zip
from tests.factories import make_district, make_school, make_source, map_school
from tests.support import people


@pytest.fixture
def source(app, bundle_store):
    district = make_district(name="Demo District")
    source = make_source(district, name="District CSV", method="csv", vendor="oneroster", url="", client_id="",
                         commit=False)
    source.secret_encrypted = None
    for name, slug, sis_id in (("North High", "north", "s1"), ("South High", "south", "s2")):
        map_school(make_school(district, name=name, slug=slug), source, sis_id, method="oneroster_csv", commit=False)
    db.session.commit()
    return source


def _bundle(tmp_path, *rows):
    rows = rows or (user_row("n1", org="s1"), user_row("n2", org="s1"), user_row("s1-a", org="s2"))
    return write_zip(tmp_path / "district.zip", bundle_files(users_csv=users(*rows)))


def _import(runner, ref, path, *flags):
    return runner.invoke(args=["roster", "import", "--source", str(ref), str(path), *flags])


def test_import_by_name_syncs_every_mapped_school_as_one_night(runner, source, tmp_path):
    result = _import(runner, "District CSV", _bundle(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["source"], data["bundle_status"], data["night_status"], data["records_read"]) == \
        ("District CSV", "valid", "succeeded", 3)
    assert [(s["school"], s["status"], s["created"], s["preview"]) for s in data["schools"]] == \
        [("north", "succeeded", 2, False), ("south", "succeeded", 1, False)]
    north, south = (db.session.get(SyncRun, s["run_id"]).school for s in data["schools"])
    assert [p[0] for p in people(north)] == ["n1", "n2"] and [p[0] for p in people(south)] == ["s1-a"]
    night = db.session.scalar(db.select(SourceNight))
    assert (night.trigger, night.schools, night.id) == ("cli", 2, data["night_id"])


def test_preview_by_id_writes_nothing_and_prints_each_school(runner, source, tmp_path):
    result = _import(runner, source.id, _bundle(tmp_path), "--preview")
    assert result.exit_code == 0, result.output
    assert "north: run" in result.output and "preview: nothing written" in result.output
    assert "created 2" in result.output and "created 1" in result.output
    runs = db.session.scalars(db.select(SyncRun)).all()
    assert {run.trigger for run in runs} == {"preview"} and all(people(run.school) == [] for run in runs)
    assert db.session.scalar(db.select(db.func.count(SourceNight.id))) == 0


def test_a_bundle_with_errors_exits_1_with_its_problems_and_changes_nothing(runner, source, tmp_path):
    result = _import(runner, "District CSV", _bundle(tmp_path, user_row("n1"), user_row("n1")), "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["status"] == "invalid" and data["problems"][0]["file"] == "users.csv"
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0


def test_a_held_school_exits_1(runner, source, tmp_path):
    assert _import(runner, "District CSV", _bundle(tmp_path)).exit_code == 0
    for conn in source.connections:
        conn.archive, conn.archive_threshold_percent = True, 10.0
    db.session.commit()
    result = _import(runner, "District CSV", _bundle(tmp_path, user_row("s1-a", org="s2")), "--json")
    assert result.exit_code == 1
    assert {s["school"]: s["status"] for s in json.loads(result.output)["schools"]}["north"] == "needs_review"


@pytest.mark.parametrize("args, code, words", [
    (["--school", "north", "--source", "1"], 2, "either --school SLUG or --source"),
    ([], 2, "either --school SLUG or --source"),
    (["--source", "Nowhere"], 2, "No district source 'Nowhere'"),
])
def test_usage_errors_exit_2(runner, source, tmp_path, args, code, words):
    result = runner.invoke(args=["roster", "import", *args, str(_bundle(tmp_path))])
    assert result.exit_code == code and words in result.output


def test_an_api_source_is_refused(runner, source, tmp_path):
    make_source(source.district, name="Aeries")
    result = _import(runner, "Aeries", _bundle(tmp_path))
    assert result.exit_code == 1 and "reads its SIS over the OneRoster API" in result.output


def test_roster_sync_district_syncs_a_csv_sources_newest_bundle_as_its_night(runner, source, tmp_path):
    """A CSV source has no SIS to read: `roster sync --district` syncs its newest valid bundle into each mapped
    school, as the source page's Sync now does, instead of failing every school with "no saved SIS connection"."""
    accept_source_bundle(source.id, _bundle(tmp_path), via="upload", filename="district.zip", sync=False)
    result = runner.invoke(args=["roster", "sync", "--district", "Demo District", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    (night,) = data["nights"]
    assert (night["source"], night["status"], night["records_read"], night["error"]) == \
        ("District CSV", "succeeded", 3, "")
    assert [(s["school"], s["status"], s["created"]) for s in data["schools"]] == \
        [("north", "succeeded", 2), ("south", "succeeded", 1)]
    north, south = (db.session.get(SyncRun, s["run_id"]).school for s in data["schools"])
    assert [p[0] for p in people(north)] == ["n1", "n2"] and [p[0] for p in people(south)] == ["s1-a"]


def test_roster_sync_district_without_a_valid_bundle_says_so_and_starts_no_run(runner, source):
    result = runner.invoke(args=["roster", "sync", "--district", "Demo District"])
    assert result.exit_code == 1
    assert "District CSV: no valid bundle has been received yet" in result.output
    assert "roster import --source" in result.output
    assert db.session.scalar(db.select(db.func.count(SyncRun.id))) == 0
    assert db.session.scalar(db.select(db.func.count(SourceNight.id))) == 0


def test_roster_source_test_of_a_csv_source_lists_its_newest_bundles_schools(runner, source, tmp_path):
    """No SIS to test: the schools of the newest valid bundle, as the source's page lists them for mapping, instead
    of a usage error asking for a URL and a secret a CSV source never has."""
    args = ["roster", "source", "test", "--district", "Demo District"]
    before = runner.invoke(args=args)
    assert before.exit_code == 1 and "no valid bundle has been received yet" in before.output
    assert "--url" not in before.output
    accept_source_bundle(source.id, _bundle(tmp_path), via="upload", filename="district.zip", sync=False)
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "has no SIS connection to test" in result.output
    assert "s1\tNorth High\tmapped to north" in result.output and "s2\tSouth High\tmapped to south" in result.output


def test_roster_source_add_csv_sets_up_a_csv_source_from_a_script(runner, app, bundle_store, tmp_path):
    """`roster import --source` needs a CSV source, and only the Sources page could make one: a script setting up a
    CSV district had no way to start."""
    district = make_district(name="Script District")
    school = make_school(district, name="Script High", slug="script-high")
    add = ["roster", "source", "add-csv", "--district", "Script District", "--sync-time", "03:15", "--automatic",
           "--on-receipt", "nightly"]
    result = runner.invoke(args=add)
    assert result.exit_code == 0, result.output
    source = db.session.scalar(db.select(Source).where(Source.district_id == district.id))
    assert (source.method, source.name, source.sync_time, source.automatic, source.csv_sync_on_receipt) == \
        ("csv", "Script District — OneRoster CSV", "03:15", True, "nightly")
    assert f"Saved source {source.id}" in result.output and "roster import --source" in result.output
    mapped = runner.invoke(args=["roster", "source", "map", "--district", "Script District", "--school",
                                 "script-high", "--sis-id", "s1"])
    assert mapped.exit_code == 0, mapped.output
    imported = runner.invoke(args=["roster", "import", "--source", str(source.id), _bundle(tmp_path), "--json"])
    assert imported.exit_code == 0, imported.output
    assert [p[0] for p in people(school)] == ["n1", "n2"]
    bad = runner.invoke(args=[*add[:5], "--sync-time", "7pm"])
    assert bad.exit_code == 2 and "--sync-time: Give the time as HH:MM" in bad.output


def test_a_delta_deletion_row_naming_no_school_archives_the_person_at_the_school_that_has_them(runner, source,
                                                                                                tmp_path):
    """A district delta's bare deletion row (ids only) was dropped by the district read: s1-a stayed active."""
    assert _import(runner, "District CSV", _bundle(tmp_path)).exit_code == 0
    for conn in db.session.scalars(db.select(RosterConnection).where(RosterConnection.source_id == source.id)):
        conn.archive, conn.archive_threshold_percent = True, 100
    db.session.commit()
    delta = bundle_files(manifest_csv=bundle_files()["manifest.csv"].replace("file.users,bulk", "file.users,delta"),
                         users_csv=users("s1-a,tobedeleted,2026-02-01T00:00:00Z" + "," * 15))
    result = _import(runner, "District CSV", write_zip(tmp_path / "delta.zip", delta), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(s["school"], s["archived"], s["issues"], s["skipped"]) for s in data["schools"]] == \
        [("north", 0, 0, 0), ("south", 1, 0, 0)]
    north, south = (db.session.get(SyncRun, s["run_id"]).school for s in data["schools"])
    assert [(p[0], p[3]) for p in people(south)] == [("s1-a", "archived")]
    assert [(p[0], p[3]) for p in people(north)] == [("n1", "active"), ("n2", "active")]
