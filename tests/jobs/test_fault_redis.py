"""Fault suite, Redis: the job queue's Redis killed and restarted (or gone) in the middle of a sync.

A private redis-server on a free port (never the shared one) backs an app whose worker thread runs the sync.
The run must end exactly as a complete sync or fail with nothing changed, and never stay running.
"""
import socket
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import redis

from jobs.locks import lock_key
from jobs.runs import create_run, mark_stale_runs_failed
from jobs.sync import run_sync
from portal import create_app
from store.db import db
from store.models import SyncRun
from tests.factories import make_run, make_school
from tests.support import (app_config, assert_as_after_a_complete_sync, assert_failed_and_unchanged, people,
                           sandbox_fixture)

pytestmark = pytest.mark.usefixtures("no_backoff")  # retries still happen, without the real pauses
sandbox = sandbox_fixture(seed=13, students=80, page_cap=20, scope="module")


class RedisServer:
    """One redis-server process without persistence: a restart loses every key, as a crashed Redis does."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no shutdown save, keys gone
        self.process.wait(10)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@pytest.fixture
def private_redis():
    server = RedisServer()
    server.start()
    yield server
    if server.process.poll() is None:
        server.kill()


def start_worker(private_redis, run_id):
    """Run the sync in a thread with an app whose Redis is the private server, as a worker would."""
    worker_app = create_app(app_config(REDIS_URL=private_redis.url))
    errors = []

    def work():
        try:
            with worker_app.app_context():
                run_sync(run_id)
                db.session.remove()
                db.engine.dispose()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=work, name=f"sync-{run_id}")
    thread.start()
    return thread, errors


def wait_for_phase(run_id, phase, thread):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        db.session.expire_all()
        if db.session.get(SyncRun, run_id).phase == phase:
            return
        assert thread.is_alive(), "the sync ended before the fault"
        time.sleep(0.02)
    pytest.fail(f"the run never reached {phase!r}")


def finish(thread, errors, run_id) -> SyncRun:
    thread.join(30)
    assert not thread.is_alive() and not errors, errors
    db.session.expire_all()
    return db.session.get(SyncRun, run_id)


def test_redis_restarted_mid_fetch_ends_exactly_as_a_complete_sync(synced_school, sandbox, private_redis):
    sandbox.set_faults(slow={"path": "students", "page": 1, "seconds": 1.5})  # Redis restarts while we wait
    run = create_run(synced_school, trigger="manual")
    thread, errors = start_worker(private_redis, run.id)
    wait_for_phase(run.id, "fetching students", thread)
    assert private_redis.client().get(lock_key(synced_school.id)) == str(run.id).encode()
    private_redis.kill()
    private_redis.start()  # same port, no keys: the lock is gone
    run = finish(thread, errors, run.id)
    assert_as_after_a_complete_sync(synced_school, sandbox, run)
    assert private_redis.client().get(lock_key(synced_school.id)) is None  # taken again, then released


def test_redis_down_for_the_rest_of_the_sync_still_ends_as_a_complete_sync(synced_school, sandbox, private_redis):
    sandbox.set_faults(slow={"path": "students", "page": 1, "seconds": 0.5})
    run = create_run(synced_school, trigger="manual")
    thread, errors = start_worker(private_redis, run.id)
    wait_for_phase(run.id, "fetching students", thread)
    private_redis.kill()  # renewals and the release fail; nobody else can start a sync without Redis either
    run = finish(thread, errors, run.id)
    assert_as_after_a_complete_sync(synced_school, sandbox, run)


def _taken_over(synced_school, sandbox, private_redis) -> tuple[SyncRun, list]:
    """Redis restarts mid-fetch and another run takes the school's lock before ours renews it."""
    before = people(synced_school)
    sandbox.set_faults(slow={"path": "students", "page": 1, "seconds": 1.5})
    run = create_run(synced_school, trigger="manual")
    thread, errors = start_worker(private_redis, run.id)
    wait_for_phase(run.id, "fetching students", thread)
    private_redis.kill()
    private_redis.start()
    private_redis.client().set(lock_key(synced_school.id), str(run.id + 1000), ex=600)
    return finish(thread, errors, run.id), before


def test_a_lock_taken_over_after_a_redis_restart_stops_the_run_with_nothing_changed(synced_school, sandbox,
                                                                                   private_redis):
    run, before = _taken_over(synced_school, sandbox, private_redis)
    assert_failed_and_unchanged(synced_school, run, before)
    assert private_redis.client().get(lock_key(synced_school.id)) == str(run.id + 1000).encode()  # not ours to free


def test_a_lock_taken_over_is_explained_in_plain_words(synced_school, sandbox, private_redis):
    run, _ = _taken_over(synced_school, sandbox, private_redis)
    assert run.error_message.startswith("The job queue (Redis) lost this sync's lock")


def test_stale_runs_after_a_redis_restart_trust_the_heartbeat(app, private_redis):
    school = make_school()
    now = datetime.now(timezone.utc)
    old = now - timedelta(minutes=10)
    alive = make_run(school, status="running", job_id="sync-wiped", created_at=old, started_at=old,
                     heartbeat_at=now)  # its job hash went with the restart
    lost = make_run(make_school(), status="queued", job_id="sync-wiped-2", created_at=old)
    private_redis.kill()
    assert mark_stale_runs_failed(redis=private_redis.client()) == []  # Redis down: cannot tell, fail nobody
    private_redis.start()
    assert mark_stale_runs_failed(redis=private_redis.client()) == [lost.id]
    assert alive.status == "running"
    assert lost.error_message == ("The sync job was lost before it started (its worker stopped or the job queue "
                                  "restarted). Nothing was changed.")
