"""A sync reads the SIS on a thread ahead of its planner (jobs.sync.RosterPages): the first pages arrive while the
directory loads, and a run that fails stops that read and changes nothing."""
import threading
import time

import pytest

import jobs.sync
from jobs.plan import Planner
from tests.factories import make_school
from tests.support import connect, expected_people, sandbox_fixture, snapshot, sync

sandbox = sandbox_fixture(seed=11, page_cap=25, scope="module")  # small pages: many of them


@pytest.fixture
def school(app, sandbox):
    sandbox.clear_faults()
    return make_school()


def _pages_served(sandbox) -> int:
    return sum(sandbox.served()["requests"].values())


def test_the_sis_is_read_while_the_directory_loads(school, sandbox, monkeypatch):
    connect(school, sandbox)
    load, seen = jobs.sync.load_directory, []

    def slow_directory(*args, **kwargs):
        served = _pages_served(sandbox)
        deadline = time.monotonic() + 10
        while _pages_served(sandbox) == served and time.monotonic() < deadline:
            time.sleep(0.01)  # a big school's directory takes about a second to load
        seen.append(_pages_served(sandbox) - served)
        return load(*args, **kwargs)

    monkeypatch.setattr(jobs.sync, "load_directory", slow_directory)
    run = sync(school)
    assert run.status == "succeeded" and run.created == len(expected_people(sandbox))
    assert seen[0] >= 1  # pages came in before the directory was there to plan them against


def test_a_run_that_fails_mid_read_stops_reading_the_sis_and_changes_nothing(school, sandbox, monkeypatch):
    connect(school, sandbox, archive=True)
    assert sync(school).status == "succeeded"
    sandbox.mutate(change_fraction=0.2, seed=3)
    before = snapshot(school)
    add_page, planned = Planner.add_page, []

    def failing(self, page):
        planned.append(len(page))
        if len(planned) == 2:
            raise RuntimeError("planner broke")
        return add_page(self, page)

    monkeypatch.setattr(Planner, "add_page", failing)
    served = _pages_served(sandbox)
    run = sync(school)
    assert run.status == "failed" and "RuntimeError" in run.error_message
    assert snapshot(school) == before
    assert not [t for t in threading.enumerate() if t.name == "read-ahead"]  # the read stopped with the run
    read = _pages_served(sandbox) - served
    time.sleep(0.3)
    assert _pages_served(sandbox) - served == read <= 2 + jobs.sync.READ_AHEAD_PAGES + 1
