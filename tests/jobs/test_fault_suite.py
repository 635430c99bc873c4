"""Fault suite: SIS faults over real HTTP, a lost database, a killed worker and a race between two workers.

Each fault must leave the school's directory exactly as it was (with a readable reason) or exactly as a
complete sync leaves it, and no run left running. A lost Redis is in test_fault_redis.py.
"""
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

import jobs.sync
from jobs.runs import create_run, mark_stale_runs_failed, start_sync
from jobs.sync import run_sync
from store.db import db
from store.models import SyncRun
from tests.factories import make_run
from tests.support import (DATABASE_URL, REDIS_URL, app_config, assert_as_after_a_complete_sync,
                           assert_failed_and_unchanged, assert_nothing_running, issues, people, quick_client,
                           sandbox_fixture, sync)

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("no_backoff")  # retries still happen, without the real pauses
sandbox = sandbox_fixture(seed=11, students=80, page_cap=20, scope="module")  # small pages: faults land mid-paging


SIS_FAULTS = {
    "connection hung up mid-body (page 2)": dict(truncated={"path": "users", "page": 2}),
    "HTML error page mid-paging": dict(html_page={"path": "users", "page": 1, "status": 502}),
    "HTML page with 200": dict(html_page={"path": "users", "page": 3}),
    "truncated body mid-paging": dict(truncated={"path": "users", "page": 1}),
    "malformed JSON mid-paging": dict(malformed_json={"path": "students", "page": 1}),
    "TCP reset on every try (page 1)": dict(reset={"path": "students", "page": 1, "times": 99}),
    "500 on every try (page 1)": dict(error_500={"path": "teachers", "page": 0, "times": 99}),
    "endless 429 storm": dict(rate_limit_storm=10_000, retry_after=0.01),
    # These three ended as "The sync stopped unexpectedly (ContentDecodingError / TooManyRedirects / ValueError)".
    "garbled compression on every try (page 1)": dict(bad_compression={"path": "users", "page": 1, "times": 99}),
    "same-host redirect loop (page 1)": dict(redirect_loop={"path": "students", "page": 1}),
    "redirect to an unreadable address (page 0)": dict(bad_redirect={"path": "teachers", "page": 0}),
    # Its first capped page came again and was taken for the whole listing: the rest "left the roster".
    "capped pages that always start at offset 0": dict(offset_ignored=["users"]),
}
READABLE = {
    "malformed JSON mid-paging": "malformed JSON",
    "TCP reset on every try (page 1)": "dropped the connection",
    "500 on every try (page 1)": "server error (HTTP 500",
    "endless 429 storm": "too busy",
    "garbled compression on every try (page 1)": "could not be decompressed",
    "same-host redirect loop (page 1)": "kept redirecting the request",
    "redirect to an unreadable address (page 0)": "sent the request on to an address that cannot be read",
    "capped pages that always start at offset 0": "it seems to ignore the offset parameter, so the rest cannot be read",
}


@pytest.mark.parametrize("name", SIS_FAULTS)
def test_sis_fault_mid_paging_changes_nothing(synced_school, sandbox, name):
    before = people(synced_school)
    sandbox.set_faults(**SIS_FAULTS[name])
    run = sync(synced_school)
    assert_failed_and_unchanged(synced_school, run, before)
    assert len(run.error_message) > 30
    assert "unexpectedly" not in run.error_message and "Traceback" not in run.error_message
    assert READABLE.get(name, "") in run.error_message


def test_a_page_slower_than_the_time_out_fails_readably_and_changes_nothing(synced_school, sandbox):
    before = people(synced_school)
    sandbox.set_faults(slow={"path": "students", "page": 1, "seconds": 1})
    run = sync(synced_school, client_factory=lambda settings: quick_client(settings, timeout=(2, 0.3)))  # 30 s, shortened
    assert_failed_and_unchanged(synced_school, run, before, "Timed out: the SIS did not answer within 0.3 seconds")


def test_a_page_trickled_slower_than_one_answer_may_take_fails_readably_and_changes_nothing(synced_school, sandbox):
    """Each piece came well inside the read time-out, so nothing ever timed out: the sync (and its lock) waited on
    one page until RQ killed the worker hours later, and the run ended as "the worker died"."""
    before = people(synced_school)
    sandbox.set_faults(trickle={"path": "students", "page": 1, "seconds": 6})
    started = time.monotonic()
    run = sync(synced_school, client_factory=lambda settings: quick_client(settings, max_body_seconds=1))  # 300 s
    assert time.monotonic() - started < 5
    assert_failed_and_unchanged(synced_school, run, before, "Timed out: the SIS took more than 1 second to send one "
                                                            "answer")


def test_a_sync_slower_than_the_total_limit_stops_readably_and_changes_nothing(app, synced_school, sandbox, monkeypatch):
    """Each page arrives in time, but the whole roster takes longer than SYNC_MAX_MINUTES allows."""
    before = people(synced_school)
    monkeypatch.setitem(app.config, "SYNC_MAX_MINUTES", 0.005)  # 0.3 s
    sandbox.set_faults(slow={"path": "students", "page": 1, "seconds": 0.5})
    assert_failed_and_unchanged(synced_school, sync(synced_school), before,
                                "The sync stopped after 0.005 minutes, the longest a sync may take")


RECOVERED = {
    "429 storm shorter than the retries": dict(rate_limit_storm=4, retry_after=0.01),
    "500 on a page, then it works": dict(error_500={"path": "students", "page": 1}),
    "TCP reset on a page, then it works": dict(reset={"path": "teachers", "page": 0}),
    "token expires mid-sync": dict(token_expiry_after=2),
    "429 now and then": dict(rate_limit_every=3, retry_after=0.01),
}


@pytest.mark.parametrize("faults", RECOVERED.values(), ids=RECOVERED.keys())
def test_retried_faults_end_exactly_as_a_complete_sync(synced_school, sandbox, faults):
    sandbox.set_faults(**faults)
    issued = sandbox.credentials.issued
    run = sync(synced_school)
    assert run.updated > 0  # the SIS changed since the last sync, and all of it arrived
    if "token_expiry_after" in faults:
        assert sandbox.credentials.issued >= issued + 2  # a fresh token after the first one died
    assert_as_after_a_complete_sync(synced_school, sandbox, run)


def _repeat(sandbox, sids) -> None:
    """Serve these students twice in every listing (the sandbox's `duplicates` fault, chosen by hand)."""
    with sandbox.data.lock:
        sandbox.data.duplicates = set(sids)
        sandbox.data.changed(sids)


def test_duplicate_source_ids_are_reported_once_and_synced_once(synced_school, sandbox):
    listing = sandbox.data.user_ids("students", sandbox.info["school_ids"][0])
    across, inside = listing[19], listing[5]  # page size 20: listing[19]'s repeat opens the next page
    _repeat(sandbox, [across, inside])
    run = sync(synced_school)
    assert run.status == "succeeded", run.error_message
    reported = sorted(i.source_id for i in issues(run) if i.kind == "duplicate_source_id")
    assert reported == sorted([across, inside])
    assert all("sent" in i.message and "twice" in i.message for i in issues(run))
    ids = [p[0] for p in people(synced_school) if p[0]]
    assert len(ids) == len(set(ids)) and {across, inside} <= set(ids)
    assert run.archived == 0 and all(p[3] == "active" for p in people(synced_school))
    _repeat(sandbox, [])
    assert_as_after_a_complete_sync(synced_school, sandbox, run)


def test_database_lost_at_apply_time_changes_nothing(synced_school, monkeypatch):
    before = people(synced_school)

    def database_gone(*args, **kwargs):
        raise OperationalError("UPDATE person ...", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(jobs.sync, "apply_plan", database_gone)
    run = sync(synced_school)
    assert run.status == "failed"
    assert run.error_message.startswith(
        "The sync stopped unexpectedly (OperationalError). Sync again; if it stops the same way")
    assert people(synced_school) == before
    assert_nothing_running(synced_school)


def _worker(tmp_path):
    env = dict(os.environ, DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL, PORTAL_ENV="test",
               PORTAL_FERNET_KEYS=app_config()["PORTAL_FERNET_KEYS"], RQ_QUEUE="sync")
    log = open(tmp_path / "worker.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "portal.worker", "sync", "--burst"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def test_worker_killed_mid_sync_is_marked_failed_and_changes_nothing(synced_school, sandbox, tmp_path):
    before = people(synced_school)
    sandbox.set_faults(slow={"path": "users", "page": 1, "seconds": 8})
    run = start_sync(synced_school)
    worker = _worker(tmp_path)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            db.session.expire_all()
            if db.session.get(SyncRun, run.id).status == "running":
                break
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.1)
        else:
            pytest.fail("the worker never started the run:\n" + (tmp_path / "worker.log").read_text())
        time.sleep(0.5)  # mid-fetch: the slow page holds it there
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its work horse, as an OOM kill would
        worker.wait(10)
    db.session.expire_all()
    assert db.session.get(SyncRun, run.id).status == "running"  # nobody could tell it died
    failed = mark_stale_runs_failed(synced_school.id, now=datetime.now(timezone.utc) + timedelta(minutes=10))
    assert failed == [run.id]
    db.session.expire_all()
    dead = db.session.get(SyncRun, run.id)
    assert dead.status == "failed" and "stopped responding" in dead.error_message
    assert dead.error_message.endswith("Nothing was changed.")
    assert people(synced_school) == before
    assert_nothing_running(synced_school)


def test_two_workers_on_one_school_only_one_applies(app, synced_school, sandbox):
    before = people(synced_school)
    first = create_run(synced_school, trigger="manual")
    second = make_run(synced_school, trigger="manual", status="queued")  # a duplicate delivery
    ids = [first.id, second.id]
    sandbox.set_faults(slow={"path": "users", "page": 0, "seconds": 1.5})  # the winner holds the lock a while
    barrier, errors = threading.Barrier(2), []

    def work(run_id):
        try:
            with app.app_context():
                barrier.wait(5)
                run_sync(run_id)
                db.session.remove()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(run_id,)) for run_id in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    db.session.expire_all()
    runs = [db.session.get(SyncRun, run_id) for run_id in ids]
    statuses = sorted(r.status for r in runs)
    assert statuses == ["skipped", "succeeded"], [(r.status, r.error_message) for r in runs]
    loser = next(r for r in runs if r.status == "skipped")
    assert "Another sync of this school was already running" in loser.error_message
    winner = next(r for r in runs if r.status == "succeeded")
    assert people(synced_school) != before and winner.updated + winner.created + winner.archived > 0
    assert_nothing_running(synced_school)
