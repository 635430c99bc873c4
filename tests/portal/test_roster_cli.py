"""`flask roster configure|test|sync`: clear messages and honest exit codes."""
import json

import pytest

from store.db import db
from store.models import Person
from jobs.connection import get_connection
from store.secrets import decrypt_secret
from tests.factories import make_school
from tests.support import sandbox_fixture

sandbox = sandbox_fixture("aeries", students=60, seed=5, scope="module")


@pytest.fixture
def school(app, sandbox):
    sandbox.clear_faults()
    return make_school(slug="cli-high")


def configure(runner, sandbox, *extra, secret=None):
    info = sandbox.info
    return runner.invoke(args=["roster", "configure", "--school", "cli-high", "--vendor", "aeries",
                               "--url", info["base_url"] + "/", "--client-id", info["client_id"],
                               "--client-secret", secret or info["client_secret"],
                               "--sis-school-id", info["school_ids"][0], *extra])


def people_count(school) -> int:
    return db.session.scalar(db.select(db.func.count(Person.id)).where(Person.school_id == school.id))


def test_configure_saves_the_connection_and_toggles(runner, school, sandbox):
    result = configure(runner, sandbox, "--no-staff", "--archive", "--archive-threshold", "25")
    assert result.exit_code == 0, result.output
    assert "Saved the Aeries connection" in result.output
    conn = get_connection(school)
    assert (conn.sync_staff, conn.archive, conn.archive_threshold_percent) == (False, True, 25.0)
    assert sandbox.info["client_secret"] not in result.output


def test_configure_reads_the_secret_from_standard_input_so_it_stays_off_the_command_line(runner, school, sandbox):
    """The secret could only be typed as an argument: kept in the shell's history, readable in the process list."""
    info = sandbox.info
    result = runner.invoke(args=["roster", "configure", "--school", "cli-high", "--vendor", "aeries", "--url",
                                 info["base_url"] + "/", "--client-id", info["client_id"], "--client-secret", "-",
                                 "--sis-school-id", info["school_ids"][0]], input=info["client_secret"] + "\n")
    assert result.exit_code == 0, result.output
    assert decrypt_secret(get_connection(school).secret_encrypted) == info["client_secret"]
    assert info["client_secret"] not in result.output


def test_configure_refuses_bad_values_with_option_names_not_a_traceback(runner, school):
    result = runner.invoke(args=["roster", "configure", "--school", "cli-high", "--vendor", "aeries",
                                 "--url", "ftp://x", "--client-id", "id", "--client-secret", "s",
                                 "--sis-school-id", "five"])
    assert result.exit_code == 2
    assert "--url:" in result.output and "--sis-school-id:" in result.output
    assert "Traceback" not in result.output


def test_unknown_school_and_vendor_are_clear_errors(runner, school):
    result = runner.invoke(args=["roster", "sync", "--school", "nope"])
    assert result.exit_code == 2 and "No school with the slug 'nope'" in result.output
    result = runner.invoke(args=["roster", "configure", "--school", "cli-high", "--vendor", "skyline",
                                 "--url", "https://x", "--client-id", "i", "--sis-school-id", "1"])
    assert result.exit_code == 2 and "skyline" in result.output and "skyward" in result.output  # the known ones


def test_configure_classlink_without_auth_signs_with_oauth1(runner, school):
    result = runner.invoke(args=["roster", "configure", "--school", "cli-high", "--vendor", "classlink",
                                 "--url", "https://district.rosterserver.example.org", "--client-id", "key",
                                 "--client-secret", "sec", "--sis-school-id", "CL-1"])
    assert result.exit_code == 0, result.output
    assert "Saved the ClassLink Roster Server connection" in result.output
    assert get_connection(school).auth_mode == "oauth1"


def test_test_prints_the_checklist_and_exits_1_when_a_row_fails(runner, school, sandbox):
    configure(runner, sandbox)
    result = runner.invoke(args=["roster", "test", "--school", "cli-high"])
    assert result.exit_code == 0, result.output
    assert "✓ Token obtained" in result.output
    sandbox.set_faults(deny=["enrollments"])  # an optional area: shown, not failing
    result = runner.invoke(args=["roster", "test", "--school", "cli-high"])
    assert result.exit_code == 0 and "✗ Optional: enrollments (Master Schedule and Classes)" in result.output, result.output
    sandbox.set_faults(deny=["teachers", "users"])  # no listing left to fall back to
    result = runner.invoke(args=["roster", "test", "--school", "cli-high"])
    assert result.exit_code == 1
    assert "✗ Read access: teachers (Teacher Data)" in result.output and "Fix: Enable READ for Teacher Data" in result.output


def test_sync_preview_writes_nothing_and_sync_json_reports_counts(runner, school, sandbox):
    configure(runner, sandbox)
    result = runner.invoke(args=["roster", "sync", "--school", "cli-high", "--preview", "--json"])
    assert result.exit_code == 0, result.output
    preview = json.loads(result.stdout)
    assert preview["status"] == "succeeded" and preview["created"] > 0 and people_count(school) == 0

    result = runner.invoke(args=["roster", "sync", "--school", "cli-high", "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert counts["created"] == preview["created"] == people_count(school)

    result = runner.invoke(args=["roster", "sync", "--school", "cli-high"])
    assert result.exit_code == 0 and "succeeded" in result.output and "created 0" in result.output


def test_sync_exits_1_with_the_reason_when_the_sis_fails(runner, school, sandbox):
    configure(runner, sandbox, secret="wrong-secret")
    result = runner.invoke(args=["roster", "sync", "--school", "cli-high", "--json"])
    assert result.exit_code == 1
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "failed" and "Consumer ID and Secret Key" in outcome["error"]
    assert people_count(school) == 0


def test_sync_without_a_connection_says_what_to_do(runner, school):
    result = runner.invoke(args=["roster", "sync", "--school", "cli-high"])
    assert result.exit_code == 1 and "save one on the Rostering page" in result.output
