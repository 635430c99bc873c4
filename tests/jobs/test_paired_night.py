"""Issue #14: two schools whose owners each saved the same SIS and secret (no district source before) are read once a
night from the source their second save made, and each school gets what its own sync would have given it. Real
HTTP (the sandbox SIS), PostgreSQL and Redis (RQ); requests counted at the sandbox as test_district_night does."""
from datetime import datetime, timezone

import pytest
from rq import SimpleWorker

from jobs.connection import get_connection
from jobs.district_night import night_runs
from jobs.schedule import run_tick
from store.db import db
from store.models import Person, SourceNight, Source, SyncRun
from tests.factories import make_district, make_school
from tests.support import connect, sandbox_fixture, sync

sandbox = sandbox_fixture(schools=3, students=120, seed=31, scope="module")
NIGHT = dict(automatic=True, sync_time="02:00", sync_parents=True)


def work(app) -> None:
    SimpleWorker([app.sync_queue], connection=app.redis).work(burst=True)


def directory(school) -> list[tuple]:
    db.session.expire_all()
    return sorted((p.source_id, p.role, p.given_name, p.family_name, p.email, p.grade, p.status, p.parent_email)
                  for p in db.session.scalars(db.select(Person).where(Person.school_id == school.id)))


@pytest.fixture
def paired(app, sandbox):
    """Garcia saved the sandbox on its own connection, then Lincoln's owner saved it too: one source for both."""
    sandbox.clear_faults()
    sandbox.page_cap = 1000
    place = make_district(timezone="UTC")
    garcia, lincoln = make_school(place, name="Garcia Middle"), make_school(place, name="Lincoln High")
    connect(garcia, sandbox, 1, **NIGHT)
    assert get_connection(garcia).source_id is None  # alone, it reads on its own
    connect(lincoln, sandbox, 0, **NIGHT)
    sandbox.served(reset=True)
    return garcia, lincoln


def test_both_schools_are_read_once_a_night_and_each_gets_what_its_own_sync_would(app, sandbox, paired):
    garcia, lincoln = paired
    [source] = db.session.scalars(db.select(Source))
    assert {get_connection(garcia).source_id, get_connection(lincoln).source_id} == {source.id}
    assert (source.automatic, source.sync_time) == (True, "02:00")

    queued = run_tick(datetime(2026, 12, 4, 3, 0, tzinfo=timezone.utc))  # after both schools' 02:00
    assert len(queued) == 2 and len(app.sync_queue.job_ids) == 1  # one read job for the two schools
    work(app)
    served = sandbox.served(reset=True)
    [night] = db.session.scalars(db.select(SourceNight))
    assert night.status == "succeeded", night.error_message
    assert served["records"] == {"users": len(sandbox.data.users)} and set(served["requests"]) == {"users"}
    assert [run.status for run in night_runs(night.id)] == ["succeeded", "succeeded"]

    # The same SIS schools, each connected alone in a district of its own, synced one by one.
    for school, index in ((garcia, 1), (lincoln, 0)):
        alone = make_school(make_district(timezone="UTC"))
        connect(alone, sandbox, index, sync_parents=True)
        assert get_connection(alone).source_id is None and sync(alone).status == "succeeded"
        assert directory(school) == directory(alone) and directory(school)
    assert directory(garcia) != directory(lincoln)  # each its own SIS school, not the other's
    assert db.session.scalar(db.select(db.func.count(SyncRun.id)).where(
        SyncRun.school_id.in_([garcia.id, lincoln.id]))) == 2
