"""Fault suite: SIS faults over real HTTP, a lost database, a killed worker and a race between two workers.

Each fault must leave the school's directory exactly as it was, no run left running, and a readable reason.
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
from jobs.runs import mark_stale_runs_failed
from jobs.sync import run_sync
from portal.extensions import db
from portal.models import Person, SyncRun
from portal.roster import service
from tests.conftest import DATABASE_URL, REDIS_URL, _test_config
from tests.factories import make_school
from tests.sync_support import connect, no_backoff, running_sandbox, sync  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sandbox():
    with running_sandbox(seed=11, students=80, page_cap=20) as box:  # small pages: faults land mid-paging
        yield box


@pytest.fixture(autouse=True)
def _no_backoff(no_backoff):
    """Every test here retries without the real back-off pauses."""


@pytest.fixture
def synced(app, sandbox):
    sandbox.clear_faults()
    school = make_school()
    connect(school, sandbox, archive=True)
    assert sync(school).status == "succeeded"
    sandbox.mutate(change_fraction=0.2, seed=3)  # the next sync would change people if it got that far
    yield school
    sandbox.clear_faults()


def people(school) -> list[tuple]:
    db.session.expire_all()
    return sorted((p.source_id or "", p.given_name, p.family_name, p.status) for p in
                  db.session.scalars(db.select(Person).where(Person.school_id == school.id)))


def assert_nothing_running(school):
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(SyncRun.id)).where(
        SyncRun.school_id == school.id, SyncRun.status.in_(("queued", "running")))) == 0


SIS_FAULTS = {
    "connection hung up mid-body (page 2)": dict(truncated={"path": "users", "page": 2}),
    "HTML error page mid-paging": dict(html_page={"path": "users", "page": 1, "status": 502}),
    "HTML page with 200": dict(html_page={"path": "users", "page": 3}),
    "truncated body mid-paging": dict(truncated={"path": "users", "page": 1}),
}


@pytest.mark.parametrize("faults", SIS_FAULTS.values(), ids=SIS_FAULTS.keys())
def test_sis_fault_mid_paging_changes_nothing(synced, sandbox, faults):
    before = people(synced)
    sandbox.set_faults(**faults)
    run = sync(synced)
    assert run.status == "failed"
    assert run.error_message.endswith("Nothing was changed.") and len(run.error_message) > 30
    assert "unexpectedly" not in run.error_message and "Traceback" not in run.error_message
    assert people(synced) == before
    assert_nothing_running(synced)


def test_database_lost_at_apply_time_changes_nothing(synced, monkeypatch):
    before = people(synced)

    def database_gone(*args, **kwargs):
        raise OperationalError("UPDATE person ...", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(jobs.sync, "apply_plan", database_gone)
    run = sync(synced)
    assert run.status == "failed"
    assert run.error_message == "The sync stopped unexpectedly (OperationalError). Nothing was changed."
    assert people(synced) == before
    assert_nothing_running(synced)


def _worker(tmp_path):
    env = dict(os.environ, DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL, PORTAL_ENV="test",
               PORTAL_FERNET_KEYS=_test_config()["PORTAL_FERNET_KEYS"], RQ_QUEUE="sync")
    log = open(tmp_path / "worker.log", "wb")
    rq = str(Path(sys.executable).parent / "rq")
    return subprocess.Popen([rq, "worker", "sync", "--burst", "--url", REDIS_URL], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def test_worker_killed_mid_sync_is_marked_failed_and_changes_nothing(synced, sandbox, tmp_path):
    before = people(synced)
    sandbox.set_faults(slow={"path": "users", "page": 1, "seconds": 8})
    run = service.start_sync(synced)
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
    failed = mark_stale_runs_failed(synced.id, now=datetime.now(timezone.utc) + timedelta(minutes=10))
    assert failed == [run.id]
    db.session.expire_all()
    dead = db.session.get(SyncRun, run.id)
    assert dead.status == "failed" and "stopped responding" in dead.error_message
    assert dead.error_message.endswith("Nothing was changed.")
    assert people(synced) == before
    assert_nothing_running(synced)


def test_two_workers_on_one_school_only_one_applies(app, synced, sandbox):
    before = people(synced)
    first = service.create_run(synced, trigger="manual")
    second = SyncRun(school_id=synced.id, trigger="manual", status="queued")  # a duplicate delivery
    db.session.add(second)
    db.session.commit()
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
    assert people(synced) != before and winner.updated + winner.created + winner.archived > 0
    assert_nothing_running(synced)
