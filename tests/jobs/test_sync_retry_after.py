"""A SIS that asks for minutes of quiet (Retry-After, over real HTTP): waited, with the run kept alive, or refused."""
from connectors.client import OneRosterClient
from jobs.locks import lock_key
from store.db import db
from store.models import SyncRun
from tests.support import assert_as_after_a_complete_sync, assert_failed_and_unchanged, people, sandbox_fixture, sync

sandbox = sandbox_fixture(seed=11, students=60, page_cap=20, scope="module")


class Waits:
    """The client's sleep: waits nothing, but ages the school's lock as the wait would, and notes at each slice
    whether the run's heartbeat and lock were renewed since the last one."""

    def __init__(self, app, school):
        self.redis, self.key, self.school_id = app.redis, lock_key(school.id), school.id
        self.slept, self.beats, self.lock_ttls = [], [], []

    def __call__(self, seconds):
        self.slept.append(seconds)
        with db.engine.connect() as conn:
            self.beats.append(conn.scalar(db.select(SyncRun.heartbeat_at).where(
                SyncRun.school_id == self.school_id, SyncRun.status == "running")))
        self.lock_ttls.append(self.redis.ttl(self.key))
        self.redis.expire(self.key, 30)  # the lease runs down while we wait...

    def factory(self, settings):
        return OneRosterClient(settings, sleep=self, jitter=lambda: 1.0)


def test_a_sis_asking_for_three_minutes_is_waited_with_the_lock_and_heartbeat_kept(app, synced_school, sandbox):
    """Cut to 60 s the SIS was hit again too early; waited whole, with nothing renewed, the lock (600 s) and the
    heartbeat (stale after 5 minutes) ran out during a few such waits and another worker could start the school."""
    sandbox.set_faults(rate_limit_storm=2, retry_after=180)
    waits = Waits(app, synced_school)
    run = sync(synced_school, client_factory=waits.factory)
    assert run.status == "succeeded", run.error_message
    assert sum(waits.slept) == 360 and max(waits.slept) <= 20
    assert all(ttl > 30 for ttl in waits.lock_ttls[1:])  # ...and each slice renewed it
    assert len(set(waits.beats)) == len(waits.beats)  # a fresh heartbeat at every slice
    assert_as_after_a_complete_sync(synced_school, sandbox, run)


def test_a_sis_asking_for_ten_minutes_fails_the_run_at_once_and_changes_nothing(app, synced_school, sandbox):
    sandbox.set_faults(rate_limit_storm=1, retry_after=600)
    before = people(synced_school)
    waits = Waits(app, synced_school)
    run = sync(synced_school, client_factory=waits.factory)
    assert waits.slept == []
    assert_failed_and_unchanged(synced_school, run, before)
    assert "asked the portal to wait 10 minutes" in run.error_message
    assert "ask the SIS vendor about the rate limits" in run.error_message


def test_a_wait_past_the_sync_time_limit_fails_the_run_at_once(app, synced_school, sandbox):
    app.config["SYNC_MAX_MINUTES"] = 2
    sandbox.set_faults(rate_limit_storm=1, retry_after=180)
    before = people(synced_school)
    waits = Waits(app, synced_school)
    try:
        run = sync(synced_school, client_factory=waits.factory)
    finally:
        app.config["SYNC_MAX_MINUTES"] = 120
    assert waits.slept == []
    assert_failed_and_unchanged(synced_school, run, before)
    assert "asked the portal to wait 3 minutes" in run.error_message and "must finish within 2 minutes" in \
        run.error_message
