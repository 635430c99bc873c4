"""`flask roster source add|test|map`: the Sources page's set-up from the command line, with its rules and errors."""
import importlib.util
from pathlib import Path

import pytest

from jobs.connection import get_connection, settings_for
from store.db import db
from store.models import AuditEvent, Source
from store.secrets import decrypt_secret
from tests.factories import make_district, make_school, make_source, map_school
from tests.support import running_sandbox


@pytest.fixture(scope="module")
def aeries():
    with running_sandbox("aeries", schools=3, students=20, seed=5) as box:
        yield box


@pytest.fixture
def district(app):
    district = make_district(name="Demo Unified")
    make_school(district, name="OBrien Elementary", slug="obrien")
    return district


def add(runner, sandbox, *extra, secret=None):
    info = sandbox.info
    return runner.invoke(args=["roster", "source", "add", "--district", "Demo Unified", "--vendor", "aeries",
                               "--url", info["base_url"] + "/", "--client-id", info["client_id"],
                               "--client-secret", info["client_secret"] if secret is None else secret, *extra])


def test_add_saves_the_source_without_echoing_the_secret(runner, district, aeries):
    result = add(runner, aeries, "--sync-time", "01:30", "--automatic")
    assert result.exit_code == 0, result.output
    source = db.session.scalar(db.select(Source))
    assert f'Saved source {source.id} "Demo Unified — Aeries"' in result.output
    assert "Nightly at 01:30 America/Los_Angeles: on" in result.output
    assert aeries.info["client_secret"] not in result.output
    assert decrypt_secret(source.secret_encrypted) == aeries.info["client_secret"]


def test_add_reads_the_secret_from_standard_input(runner, district, aeries):
    result = runner.invoke(args=["roster", "source", "add", "--district", "Demo Unified", "--vendor", "aeries",
                                 "--url", aeries.info["base_url"] + "/", "--client-id", aeries.info["client_id"],
                                 "--client-secret", "-"], input=aeries.info["client_secret"] + "\n")
    assert result.exit_code == 0, result.output
    assert decrypt_secret(db.session.scalar(db.select(Source)).secret_encrypted) == aeries.info["client_secret"]


@pytest.mark.parametrize("extra, words", [
    (("--url", "ftp://nope"), "--url:"),
    (("--sync-time", "7pm"), "--sync-time: Give the time as HH:MM"),
    (("--name", "x" * 300), "--name: Give the source a name"),
])
def test_add_refuses_bad_settings_naming_the_option(runner, district, aeries, extra, words):
    result = add(runner, aeries, *extra)
    assert result.exit_code == 2 and words in result.output, result.output
    assert db.session.scalar(db.select(db.func.count(Source.id))) == 0


def test_add_needs_a_known_district_and_a_secret(runner, district, aeries):
    result = runner.invoke(args=["roster", "source", "add", "--district", "Nowhere", "--vendor", "aeries",
                                 "--url", "https://x.example.org/aeries/", "--client-id", "c"])
    assert result.exit_code == 2 and "No district named 'Nowhere'" in result.output
    result = add(runner, aeries, secret="")
    assert result.exit_code == 2 and "--client-secret:" in result.output


def test_test_prints_the_checklist_and_the_sis_schools(runner, district, aeries):
    assert add(runner, aeries).exit_code == 0
    assert runner.invoke(args=["roster", "source", "map", "--district", "Demo Unified", "--school", "obrien",
                               "--sis-id", "994"]).exit_code == 0
    result = runner.invoke(args=["roster", "source", "test", "--district", "Demo Unified"])
    assert result.exit_code == 0, result.output
    assert "✓ Token obtained" in result.output and "The SIS lists 3 schools:" in result.output
    assert "994\tOBrien Elementary\tmapped to obrien" in result.output
    assert "5\tGarcía Middle School\tnot mapped" in result.output
    assert aeries.info["client_secret"] not in result.output
    tested = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "connection_tested"))
    assert tested.detail.startswith("District source Demo Unified — Aeries:")


def test_test_of_a_refused_secret_exits_1_with_what_to_do(runner, district, aeries):
    assert add(runner, aeries, secret="wrong-secret").exit_code == 0
    result = runner.invoke(args=["roster", "source", "test", "--district", "Demo Unified"])
    assert result.exit_code == 1 and "✗ Token obtained" in result.output and "Fix:" in result.output
    assert "The SIS lists 0 schools:" in result.output


def test_map_and_unmap(runner, district, aeries):
    assert add(runner, aeries).exit_code == 0
    school = make_school(district, slug="garcia")
    result = runner.invoke(args=["roster", "source", "map", "--district", "Demo Unified", "--school", "garcia",
                                 "--sis-id", "5"])
    assert result.exit_code == 0 and 'Mapped ' in result.output and "SIS school 5" in result.output
    assert settings_for(get_connection(school)).school_id == "5"
    again = runner.invoke(args=["roster", "source", "map", "--district", "Demo Unified", "--school", "obrien",
                                "--sis-id", "5"])
    assert again.exit_code == 2 and "--sis-id: SIS school 5 is already mapped to" in again.output
    result = runner.invoke(args=["roster", "source", "map", "--district", "Demo Unified", "--school", "garcia",
                                 "--unmap"])
    assert result.exit_code == 0 and "Unmapped" in result.output
    assert get_connection(school).source_id is None
    result = runner.invoke(args=["roster", "source", "map", "--district", "Demo Unified", "--school", "garcia",
                                 "--unmap"])
    assert result.exit_code == 2 and "is not mapped to a district source" in result.output


def test_map_refuses_unknown_and_foreign_schools_and_an_ambiguous_source(runner, district, aeries):
    assert add(runner, aeries).exit_code == 0
    result = runner.invoke(args=["roster", "source", "map", "--district", "Demo Unified", "--school", "nope",
                                 "--sis-id", "5"])
    assert result.exit_code == 2 and "No school with the slug 'nope'" in result.output
    make_school(make_district(), slug="faraway")
    result = runner.invoke(args=["roster", "source", "map", "--district", "Demo Unified", "--school", "faraway",
                                 "--sis-id", "5"])
    assert result.exit_code == 2 and "is not a school of Demo Unified" in result.output
    second = make_source(district, name="Second SIS")
    result = runner.invoke(args=["roster", "source", "map", "--district", "Demo Unified", "--school", "obrien",
                                 "--sis-id", "5"])
    assert result.exit_code == 2 and "has 2 sources; choose one with --source" in result.output
    result = runner.invoke(args=["roster", "source", "map", "--district", "Demo Unified", "--school", "obrien",
                                 "--sis-id", "5", "--source", str(second.id)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["roster", "source", "test", "--district", "Demo Unified", "--source", "99999"])
    assert result.exit_code == 2 and "has no source 99999" in result.output


def _demo_setup():
    spec = importlib.util.spec_from_file_location("demo_setup", Path(__file__).resolve().parents[2] / "scripts" /
                                                  "demo_setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_demo_setup_keeps_a_school_the_upgrade_mapped_on_its_source(app, district, aeries):
    demo, info = _demo_setup(), {**aeries.info, "vendor": "aeries"}
    fresh = make_school(district, slug="roosevelt-middle")
    assert "Automatic Rostering on at 02:00" in demo.configure(fresh, info, 1, "02:00")  # a fresh demo: alone
    assert get_connection(fresh).source_id is None
    school = make_school(district, slug="lincoln-high")
    stale = make_source(district, name="Demo Unified — Aeries", secret="an-old-secret")
    map_school(school, stale, aeries.info["school_ids"][0], sync_time="03:00")
    line = demo.configure(school, info, 0, "02:00")  # run again after the upgrade moved it into a source
    assert "syncs from the district source Demo Unified — Aeries" in line
    conn = get_connection(school)
    assert conn.source_id == stale.id and conn.automatic and conn.sync_time == "03:00"
    assert settings_for(conn).client_secret == aeries.info["client_secret"]  # the source follows the sandbox
