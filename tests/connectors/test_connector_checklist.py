"""The Test connection checklist against the sandbox SIS."""
import time

import pytest

from connectors.checklist import run_connection_test
from connectors.sandbox import start_sandbox

from test_connector_sandbox import CONFIGS


def by_key(rows):
    return {row.key: row for row in rows}


def no_secret(rows, secret):
    return all(secret not in f"{r.label} {r.detail} {r.fix}" for r in rows)


@pytest.fixture
def aeries():
    box = start_sandbox("aeries", schools=3, students=60, seed=2)
    yield box
    box.stop()


@pytest.mark.parametrize("config", list(CONFIGS))
def test_good_settings_pass_every_row(config):
    box = start_sandbox(schools=3, students=60, seed=2, **CONFIGS[config])
    try:
        rows = run_connection_test(box.settings(1))
    finally:
        box.stop()
    assert [r.status for r in rows] == ["ok"] * 10, [(r.key, r.detail) for r in rows if r.status != "ok"]
    assert [r.key for r in rows][:3] == ["token", "school", "read:schools"]


def test_denied_area_names_the_aeries_permission(aeries):
    aeries.set_faults(deny=["teachers"])
    rows = by_key(run_connection_test(aeries.settings()))
    row = rows["read:teachers"]
    assert (row.status, row.label) == ("denied", "Read access: Teacher Data")
    assert row.fix == "Enable READ for Teacher Data on the Aeries API Security page, then do a full IIS reset."
    assert rows["read:students"].status == "ok"


def test_wrong_school_id_lists_the_real_ones(aeries):
    settings = aeries.settings().__class__(**{**aeries.settings().__dict__, "school_id": "7"})
    rows = by_key(run_connection_test(settings))
    assert rows["school"].status == "failed"
    assert rows["school"].detail == "The School ID 7 is not among this SIS's schools: 1, 5, 994."
    assert rows["read:students"].status == "skipped" and rows["read:users"].status == "ok"


def test_refused_secret_skips_the_rest_without_showing_the_secret(aeries):
    good = aeries.settings()
    bad = good.__class__(**{**good.__dict__, "client_secret": "wrong-secret-123"})
    rows = run_connection_test(bad)
    assert rows[0].key == "token" and rows[0].status == "failed"
    assert "refused the Client ID and Secret (HTTP 401" in rows[0].detail
    assert rows[0].fix == "Check the Consumer ID and Secret Key on Aeries' API Security page."
    assert {r.status for r in rows[1:]} == {"skipped"}
    assert no_secret(rows, "wrong-secret-123") and no_secret(rows, good.client_secret)


def test_hanging_server_finishes_within_the_deadline(aeries):
    aeries.set_faults(hang=30)
    started = time.monotonic()
    rows = run_connection_test(aeries.settings(), deadline_seconds=1.5)
    assert time.monotonic() - started < 3
    assert len(rows) == 10 and rows[0].status == "failed" and rows[0].detail.startswith("Timed out")
    assert {r.status for r in rows[1:]} == {"skipped"}


def test_rows_left_at_the_deadline_are_failed_timed_out(aeries):
    aeries.set_faults(slow={"path": "students", "page": 0, "seconds": 30})
    rows = by_key(run_connection_test(aeries.settings(), deadline_seconds=1.5))
    assert rows["token"].status == "ok" and rows["read:schools"].status == "ok"
    assert rows["read:students"].status == "failed"
    assert rows["read:enrollments"].status == "failed" and "Timed out" in rows["read:enrollments"].detail


def test_slow_but_answering_server_passes(aeries):
    aeries.set_faults(slow={"path": "students", "page": 0, "seconds": 0.5})
    assert {r.status for r in run_connection_test(aeries.settings())} == {"ok"}
