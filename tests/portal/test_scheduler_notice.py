"""When the nightly dispatcher falls silent (its scheduler or every worker down), the pages say so, instead of
"Due now" for ever while each night is skipped without a word."""
from datetime import datetime, timedelta, timezone
from html import unescape

from rq_scheduler import Scheduler

from jobs.schedule import LAST_TICK_KEY, note_tick, register_schedule, run_tick
from tests.factories import make_district, make_district_manager, make_owner
from tests.support import scheduled_school

SILENT = "Nightly syncs are not starting: the portal's scheduler"


def _district_page(client, auth, district) -> str:
    auth.login(make_district_manager(district).email)
    return page(client, f"/districts/{district.id}/rostering")


def page(client, url: str) -> str:
    return unescape(client.get(url).get_data(as_text=True))


def test_a_scheduler_silent_for_25_minutes_is_named_with_its_last_tick_in_local_time(app, client, auth):
    district = make_district(timezone="America/New_York")
    scheduled_school(district, sync_time="00:00")
    note_tick(app.redis, datetime(2026, 12, 4, 7, 0, tzinfo=timezone.utc))  # long ago
    page = _district_page(client, auth, district)
    assert (f"{SILENT} has not run since Dec 4, 2026, 2:00 AM EST (it runs every few minutes). Nights due "
            "meanwhile wait for it, and a night missed by more than half a day is skipped. This is on the portal's "
            "side, not your SIS's: ask whoever runs the portal to check its scheduler and worker processes.") in page


def test_a_scheduler_that_never_ran_is_named_and_a_ticking_one_is_not(app, client, auth):
    district = make_district()
    scheduled_school(district)
    app.redis.delete(LAST_TICK_KEY)
    assert f"{SILENT} has not run yet" in _district_page(client, auth, district)
    run_tick()  # a tick (on a worker, queued by the scheduler) puts it right
    assert SILENT not in page(client, f"/districts/{district.id}/rostering")


def test_the_owner_sees_it_beside_automatic_rostering_only_while_it_is_on(app, client, auth):
    on = scheduled_school()
    off = scheduled_school(automatic=False)
    app.redis.set(LAST_TICK_KEY, (datetime.now(timezone.utc) - timedelta(hours=3)).isoformat())
    auth.login(make_owner(on).email)
    assert SILENT in page(client, f"/schools/{on.slug}/rostering")
    auth.logout()
    auth.login(make_owner(off).email)
    assert SILENT not in page(client, f"/schools/{off.slug}/rostering")


def test_a_scheduler_that_starts_counts_as_a_tick(app):
    app.redis.delete(LAST_TICK_KEY)
    register_schedule(Scheduler(queue_name="sync", connection=app.redis))
    assert app.redis.get(LAST_TICK_KEY) is not None


def test_a_value_the_portal_did_not_write_never_breaks_the_page(app, client, auth):
    district = make_district(timezone="America/New_York")
    scheduled_school(district)
    for value in ("abc", "17", b"\xff\xfe", "9999-01-01T00:00:00+00:00", "0001-01-01T00:00:00+14:00", "20260101",
                  "2026-12-04T07:00:00"):  # the last without a zone: read as UTC
        app.redis.set(LAST_TICK_KEY, value)
        shown = _district_page(client, auth, district)
        assert SILENT in shown
    assert "has not run since Dec 4, 2026, 2:00 AM EST" in shown


def test_a_district_without_automatic_rostering_is_not_told(app, client, auth):
    district = make_district()
    scheduled_school(district, automatic=False)
    app.redis.delete(LAST_TICK_KEY)
    assert SILENT not in _district_page(client, auth, district)
