"""The district night's SIS reader process (connectors.reader_process) over real HTTP, PostgreSQL and Redis: every way
it can fail mid-read fails every school of the night with nothing changed and nobody archived, the night never
waits on a dead reader, a reader never outlives the process that started it, and the secret never shows."""
import signal
import subprocess
import sys
import time

import psutil
import pytest

from connectors import reader_process
from jobs import district_night
from store.db import db
from store.models import SourceNight, SpoolRecord
from tests.jobs.test_district_night import directory, district, sandbox  # noqa: F401 - fixtures
from jobs.district_night import night_runs, run_night_now

READER = "connectors.reader_process"


def readers(pid: int | None = None) -> list[psutil.Process]:
    """The reader processes `pid` (this test process by default) started."""
    return [p for p in psutil.Process(pid).children() if READER in " ".join(p.cmdline())]


@pytest.fixture
def changed_since(app, district, sandbox):
    """A first night applied, then the SIS changes a fifth and drops a fifth: a night that read it all would
    archive people, so an incomplete one that archived anybody would show."""
    source, schools = district
    assert run_night_now(source).status == "succeeded"
    sandbox.mutate(change_fraction=0.2, remove_fraction=0.2, seed=9)
    sandbox.page_cap = 20  # many pages, so a failure lands mid-paging
    yield source, schools, {school.id: directory(school) for school in schools}
    sandbox.clear_faults()


def after_pages(monkeypatch, pages: int, action) -> None:
    """Run `action` in this (the night's) process once it has filed `pages` pages: the reader is mid-paging."""
    real_file = district_night.Router.file
    seen = []

    def filing(router, payloads, heads, records):
        seen.append(records)
        if len(seen) == pages:
            action()
        real_file(router, payloads, heads, records)

    monkeypatch.setattr(district_night.Router, "file", filing)


def assert_nothing_changed(night: SourceNight, schools, before, *, says: str) -> None:
    assert night.status == "failed" and says in night.error_message and "Nothing was changed" in night.error_message
    for run in night_runs(night.id):
        assert run.status == "failed" and run.archived == 0 and says in run.error_message
    assert {school.id: directory(school) for school in schools} == before
    assert db.session.scalar(db.select(db.func.count()).select_from(SpoolRecord)) == 0
    assert readers() == []  # no reader left behind


def test_a_429_storm_mid_paging_fails_every_school_and_changes_nothing(app, changed_since, sandbox, monkeypatch):
    source, schools, before = changed_since
    monkeypatch.setattr(district_night, "READER_CLIENT", {"max_retries": 1})
    after_pages(monkeypatch, 2, lambda: sandbox.set_faults(rate_limit_storm=10**6, retry_after=0))
    night = run_night_now(source)
    assert_nothing_changed(night, schools, before, says="HTTP 429")
    assert "Reading the district's SIS failed, so no school of this night was changed" in night.error_message


@pytest.mark.parametrize("retry_after, says", [(600, "asked the portal to wait 10 minutes before trying again, "
                                                    "longer than the 4 minutes the portal waits"),
                                              (180, "must finish within")])
def test_a_sis_asking_for_a_wait_past_the_limits_fails_the_night_at_once(app, changed_since, sandbox, monkeypatch,
                                                                         retry_after, says):
    """Longer than 4 minutes, or past the night's time limit (here 1 minute): the reader does not wait at all."""
    source, schools, before = changed_since
    monkeypatch.setitem(app.config, "SYNC_MAX_MINUTES", 1)
    after_pages(monkeypatch, 2, lambda: sandbox.set_faults(rate_limit_storm=1, retry_after=retry_after))
    started = time.monotonic()
    night = run_night_now(source)
    assert time.monotonic() - started < 30
    assert_nothing_changed(night, schools, before, says=says)
    assert "ask the SIS vendor about the rate limits" in night.error_message


def test_a_time_out_mid_paging_fails_every_school_and_changes_nothing(app, changed_since, sandbox, monkeypatch):
    source, schools, before = changed_since
    monkeypatch.setattr(district_night, "READER_CLIENT", {"max_retries": 1, "timeout": (2, 0.3)})
    sandbox.set_faults(slow={"path": "users", "page": 4, "seconds": 1.5})
    night = run_night_now(source)
    assert_nothing_changed(night, schools, before, says="Timed out: the SIS did not answer within 0.3 seconds")


def test_a_reader_killed_mid_paging_fails_the_night_at_once(app, changed_since, monkeypatch):
    source, schools, before = changed_since
    killed = []

    def kill_the_reader():
        (child,) = readers()
        killed.append(child.pid)
        child.send_signal(signal.SIGKILL)

    after_pages(monkeypatch, 2, kill_the_reader)
    started = time.monotonic()
    night = run_night_now(source)
    assert killed and time.monotonic() - started < 30  # the night did not wait on its dead reader
    assert "stopped unexpectedly (the SIS reader process was killed by SIGKILL)" in night.error_message
    assert_nothing_changed(night, schools, before, says="stopped unexpectedly")


def test_a_reader_that_raises_fails_the_night_with_what_it_raised(app, changed_since, monkeypatch):
    source, schools, before = changed_since
    monkeypatch.setattr(district_night, "READER_CLIENT", {"no_such_option": 1})  # the reader's client refuses it
    night = run_night_now(source)
    assert "stopped unexpectedly (TypeError) while reading the SIS" in night.error_message
    assert_nothing_changed(night, schools, before, says="stopped unexpectedly")


def test_a_quiet_reader_is_abandoned_at_the_time_limit(app, changed_since, sandbox, monkeypatch):
    """An SIS that answers ever so slowly: the night gives up at SYNC_MAX_MINUTES, while waiting for a page, and
    stops its reader."""
    source, schools, before = changed_since
    monkeypatch.setitem(app.config, "SYNC_MAX_MINUTES", 0.05)  # 3 s
    monkeypatch.setattr(reader_process, "IDLE_SECONDS", 0.2)
    sandbox.set_faults(slow={"path": "users", "page": 3, "seconds": 20})
    started = time.monotonic()
    night = run_night_now(source)
    assert time.monotonic() - started < 15
    assert_nothing_changed(night, schools, before, says="the longest a sync may take")


def test_the_secret_goes_through_the_pipe_never_argv_or_the_environment(app, district, sandbox, monkeypatch):
    source, _schools = district
    secret = sandbox.info["client_secret"]
    monkeypatch.setenv("PORTAL_FERNET_KEYS", "a-portal-key-the-reader-does-not-need")
    seen = []

    def look():
        (child,) = readers()
        seen.append((" ".join(child.cmdline()), child.environ()))

    after_pages(monkeypatch, 1, look)
    assert run_night_now(source).status == "succeeded"
    (cmdline, environ), = seen
    assert secret not in cmdline and not any(secret in value for value in environ.values())
    assert "PORTAL_FERNET_KEYS" not in environ


def test_a_reader_whose_parent_is_killed_exits_at_once(app, district, sandbox):
    """A worker killed mid-read (SIGKILL: a cancelled job, RQ's hard time-out, the OOM killer) leaves no reader
    reading the SIS behind it."""
    sandbox.page_cap = 20  # many pages, so the slow one is surely reached
    sandbox.set_faults(slow={"path": "users", "page": 1, "seconds": 60})  # the reader is mid-request
    script = (
        "import sys, time\n"
        "from connectors.people import Step\n"
        "from connectors.profiles import get_profile\n"
        "from connectors.reader_process import ReaderProcess\n"
        "from connectors.sandbox import oneroster_form_values\n"
        f"info = {sandbox.info!r}\n"
        "settings = get_profile('oneroster').normalise(oneroster_form_values(info), allow_loopback_http=True)\n"
        "spec = {'settings': settings, 'policy': None, 'steps': [Step(frozenset({'student'}), ('users',))],\n"
        "        'filter': None, 'parents': False}\n"
        "with ReaderProcess(spec) as reader:\n"
        "    print(reader.proc.pid, flush=True)\n"
        "    time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=reader_process.ROOT)
    try:
        child = psutil.Process(int(parent.stdout.readline()))
        time.sleep(0.5)  # it is waiting on the slow page
        assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        gone, alive = psutil.wait_procs([child], timeout=5)
        assert alive == [] and gone
    finally:
        if parent.poll() is None:
            parent.kill()
        sandbox.clear_faults()
