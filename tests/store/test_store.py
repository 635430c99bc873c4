"""The data layer's own types: instants read back aware in UTC on every database, and a district's zone."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from store.db import db
from store.models import District, SyncRun
from store.types import UTCDateTime
from tests.factories import make_school

PACIFIC = timezone(timedelta(hours=-8))


def test_utc_datetime_reads_naive_values_as_utc_and_stores_every_instant_in_utc():
    column = UTCDateTime()
    naive = datetime(2026, 3, 1, 10, 0)  # what SQLite hands back
    assert column.process_result_value(naive, None) == naive.replace(tzinfo=timezone.utc)
    stored = column.process_bind_param(datetime(2026, 3, 1, 2, 0, tzinfo=PACIFIC), None)
    assert stored == datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc) and stored.utcoffset() == timedelta(0)
    assert column.process_bind_param(None, None) is None and column.process_result_value(None, None) is None


def test_a_run_read_back_from_the_database_has_aware_times_and_a_duration(app):
    school = make_school()
    started = datetime(2026, 3, 1, 2, 0, tzinfo=PACIFIC)
    run = SyncRun(school_id=school.id, trigger="manual", status="succeeded", started_at=started,
                  finished_at=started + timedelta(seconds=75))
    db.session.add(run)
    db.session.commit()
    db.session.expire_all()
    run = db.session.get(SyncRun, run.id)
    assert run.started_at.utcoffset() == timedelta(0) and run.started_at == started
    assert run.duration_seconds == 75


@pytest.mark.parametrize("name, expected", [("America/Los_Angeles", "America/Los_Angeles"), ("Mars/Olympus", "UTC"),
                                            ("", "UTC"), (None, "UTC"), ("../etc/passwd", "UTC")])
def test_a_district_zone_falls_back_to_utc_rather_than_stopping_every_school(name, expected):
    assert District(name="D", timezone=name).zone == ZoneInfo(expected)
