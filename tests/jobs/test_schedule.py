"""The nightly dispatcher with a controlled clock: once per school and local night, whatever happens."""
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from rq_scheduler import Scheduler

from jobs.schedule import TICK_CRON, TICK_JOB_ID, dispatch_nightly, due_sources, next_run_at, register_schedule
from store.db import db
from store.models import RosterConnection, SyncRun
from tests.factories import make_district, make_run, make_source
from tests.support import nightly_runs, scheduled_school

LA, NY = ZoneInfo("America/Los_Angeles"), ZoneInfo("America/New_York")


def local(zone, *args):
    return datetime(*args, tzinfo=zone)


def finish_all():
    """What a worker would do: end the queued runs, so the next night is not blocked by them."""
    db.session.execute(db.update(SyncRun).where(SyncRun.status == "queued").values(status="succeeded"))
    db.session.commit()


def test_only_due_enabled_schools_are_queued_and_only_once_across_ticks(app):
    due = scheduled_school(sync_time="02:00")
    later = scheduled_school(sync_time="04:00")  # (a 23:00 school would run last night's, missed: night_due)
    disabled = scheduled_school(sync_time="02:00", automatic=False)
    now = local(LA, 2026, 3, 2, 3, 0)

    first = dispatch_nightly(now)
    second = dispatch_nightly(now + timedelta(minutes=5))

    runs = nightly_runs()
    assert [r.school_id for r in runs] == [due.id] and first == [runs[0].id] and second == []
    assert runs[0].local_date == "2026-03-02" and runs[0].status == "queued"
    assert app.sync_queue.job_ids == [runs[0].job_id]
    assert not nightly_runs(later) and not nightly_runs(disabled)


def test_two_schedulers_ticking_at_once_start_a_school_once(app):
    schools = [scheduled_school(sync_time="01:00") for _ in range(3)]
    now = local(LA, 2026, 3, 2, 1, 30)
    barrier, results, errors = threading.Barrier(2), [], []

    def scheduler_instance():
        with app.app_context():
            try:
                barrier.wait()
                results.append(dispatch_nightly(now))
            except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=scheduler_instance) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    dispatch_nightly(now + timedelta(minutes=5))  # and a restart's tick afterwards

    assert not errors
    assert sorted(r.school_id for r in nightly_runs()) == sorted(s.id for s in schools)
    assert sorted(i for ids in results for i in ids) == [r.id for r in nightly_runs()]
    assert len(app.sync_queue.job_ids) == 3


def test_a_missed_night_is_caught_up_once_without_a_backlog(app):
    school = scheduled_school(sync_time="02:00")
    make_run(school, trigger="nightly", status="succeeded", local_date="2026-03-01")
    back_up = local(LA, 2026, 3, 5, 10, 17)  # the scheduler was down from the 2nd to mid-morning on the 5th

    dispatch_nightly(back_up)
    dispatch_nightly(back_up + timedelta(minutes=5))

    assert [r.local_date for r in nightly_runs(school)] == ["2026-03-01", "2026-03-05"]


def test_an_edit_of_the_time_or_switch_takes_effect_at_the_next_tick(app):
    school = scheduled_school(sync_time="04:00")
    conn = db.session.scalar(db.select(RosterConnection).filter_by(school_id=school.id))
    assert dispatch_nightly(local(LA, 2026, 3, 2, 3, 0)) == []
    conn.sync_time = "02:30"
    db.session.commit()
    assert len(dispatch_nightly(local(LA, 2026, 3, 2, 3, 5))) == 1
    finish_all()
    conn.sync_time = "03:30"  # later than the run that already happened tonight: no second run
    db.session.commit()
    assert dispatch_nightly(local(LA, 2026, 3, 2, 3, 35)) == []
    conn.automatic = False
    db.session.commit()
    assert dispatch_nightly(local(LA, 2026, 3, 3, 5, 0)) == []
    assert [r.local_date for r in nightly_runs(school)] == ["2026-03-02"]


def tick_every_five_minutes(start, days):
    """The cron tick (*/5, UTC) for `days` days; what it queued, by run id, at which tick."""
    started_at, now = {}, start
    while now < start + timedelta(days=days):
        started_at.update((run_id, now) for run_id in dispatch_nightly(now))
        finish_all()
        now += timedelta(minutes=5)
    return started_at


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Honolulu"])
def test_a_time_after_the_days_last_tick_runs_every_night_just_after_midnight(app, tz):
    """23:59 (or 23:57, or 23:50 in Kathmandu's +05:45) comes after the day's last 5-minute tick: the next tick is
    on the next local date, whose own time has not come, so the school never synced at all."""
    district = make_district(timezone=tz)
    schools = {hhmm: scheduled_school(district, sync_time=hhmm) for hhmm in ("23:50", "23:57", "23:59")}
    started_at = tick_every_five_minutes(datetime(2026, 3, 6, tzinfo=timezone.utc), days=4)  # across US spring-forward

    for hhmm, school in schools.items():
        runs = nightly_runs(school)
        dates = [r.local_date for r in runs]
        assert len(dates) >= 3 and len(set(dates)) == len(dates), (hhmm, dates)  # every night, each once
        late = max(started_at[r.id] - datetime.combine(datetime.fromisoformat(r.local_date).date(),
                                                       datetime.strptime(hhmm, "%H:%M").time(), ZoneInfo(tz))
                   for r in runs[1:])
        assert late < timedelta(minutes=15), (hhmm, late)  # a few minutes late, never a day


def test_a_tick_that_comes_after_midnight_still_runs_the_night_it_missed_once(app):
    """The tick runs on the sync queue, so it can start minutes late behind long syncs."""
    school = scheduled_school(sync_time="23:45")
    dispatch_nightly(local(LA, 2026, 3, 2, 23, 46))
    finish_all()
    late = dispatch_nightly(local(LA, 2026, 3, 4, 0, 20))  # the 3rd's 23:45 tick came 35 minutes late
    finish_all()
    assert len(late) == 1 and dispatch_nightly(local(LA, 2026, 3, 4, 0, 25)) == []
    dispatch_nightly(local(LA, 2026, 3, 4, 23, 50))
    assert [r.local_date for r in nightly_runs(school)] == ["2026-03-02", "2026-03-03", "2026-03-04"]


def test_a_scheduler_back_just_before_tonights_time_does_not_also_run_last_night(app):
    """Down from before the 2nd's 02:00 until 01:00 on the 3rd: the missed night would run an hour before the next,
    so only the next runs, at its time."""
    school = scheduled_school(sync_time="02:00")
    make_run(school, trigger="nightly", status="succeeded", local_date="2026-03-01")
    assert dispatch_nightly(local(LA, 2026, 3, 3, 1, 0)) == []
    conn = db.session.scalar(db.select(RosterConnection).filter_by(school_id=school.id))
    assert next_run_at(conn, local(LA, 2026, 3, 3, 1, 0)).isoformat() == "2026-03-03T02:00:00-08:00"
    dispatch_nightly(local(LA, 2026, 3, 3, 2, 0))
    assert [r.local_date for r in nightly_runs(school)] == ["2026-03-01", "2026-03-03"]


def test_next_run_at_says_due_now_for_last_nights_missed_run_after_midnight(app):
    school = scheduled_school(sync_time="23:59")
    conn = db.session.scalar(db.select(RosterConnection).filter_by(school_id=school.id))
    make_run(school, trigger="nightly", status="succeeded", local_date="2026-03-01")
    assert next_run_at(conn, local(LA, 2026, 3, 3, 0, 0)).isoformat() == "2026-03-02T23:59:00-08:00"  # due now
    make_run(school, trigger="nightly", status="succeeded", local_date="2026-03-02")
    assert next_run_at(conn, local(LA, 2026, 3, 3, 0, 5)).isoformat() == "2026-03-03T23:59:00-08:00"


def test_a_source_night_at_23_59_is_due_at_the_tick_after_midnight(app):
    source = make_source(make_district(timezone="America/New_York"), automatic=True, sync_time="23:59")
    assert due_sources(local(NY, 2026, 3, 3, 23, 55)) == []
    assert [(s.id, d.isoformat()) for s, d in due_sources(local(NY, 2026, 3, 4, 0, 0))] == [(source.id, "2026-03-03")]


# Sync time -> the local wall time and UTC offset of the tick that starts it on the transition night.
SPRING = {"01:30": ("01:30", -8), "02:00": ("03:00", -7), "02:30": ("03:00", -7), "03:00": ("03:00", -7)}
FALL = {"00:30": ("00:30", -7), "01:30": ("01:30", -7), "02:00": ("02:00", -8), "02:30": ("02:30", -8)}


@pytest.mark.parametrize("night, expected", [((2026, 3, 8), SPRING), ((2026, 11, 1), FALL)],
                         ids=["spring-forward", "fall-back"])
def test_dst_nights_give_exactly_one_run_per_local_night(app, night, expected):
    la, ny = make_district(timezone="America/Los_Angeles"), make_district(timezone="America/New_York")
    schools = {(zone, hhmm): scheduled_school(district, sync_time=hhmm)
               for zone, district in ((LA, la), (NY, ny)) for hhmm in expected}
    day_before = datetime(*night, tzinfo=timezone.utc) - timedelta(days=1)
    now, end = day_before + timedelta(hours=17), day_before + timedelta(hours=17 + 27)  # NY noon to LA noon
    started_at = {}
    while now < end:
        for run_id in dispatch_nightly(now):
            started_at[run_id] = now
        finish_all()
        now += timedelta(minutes=5)

    night_date = datetime(*night).date().isoformat()
    for (zone, hhmm), school in schools.items():
        runs = nightly_runs(school)
        assert Counter(r.local_date for r in runs) == Counter({str(datetime(*night).date() - timedelta(days=1)): 1,
                                                               night_date: 1}), (zone, hhmm)
        tick = started_at[next(r.id for r in runs if r.local_date == night_date)].astimezone(zone)
        wall, offset = expected[hhmm]
        shift = 0 if zone is LA else 3  # New York's offset is three hours ahead of Los Angeles'
        assert (tick.strftime("%H:%M"), tick.utcoffset()) == (wall, timedelta(hours=offset + shift)), (zone, hhmm)


def test_next_run_at_is_local_and_moves_on_once_tonight_ran(app):
    school = scheduled_school(sync_time="02:30")
    conn = db.session.scalar(db.select(RosterConnection).filter_by(school_id=school.id))
    assert next_run_at(conn, local(LA, 2026, 3, 7, 23, 0)).isoformat() == "2026-03-07T02:30:00-08:00"  # due now
    dispatch_nightly(local(LA, 2026, 3, 7, 23, 0))
    finish_all()
    before = next_run_at(conn, local(LA, 2026, 3, 7, 23, 5))
    assert (before.isoformat(), before.tzinfo) == ("2026-03-08T03:00:00-07:00", LA)  # 02:30 does not exist
    assert next_run_at(conn, local(LA, 2026, 3, 8, 4, 0)).isoformat() == "2026-03-08T03:00:00-07:00"  # due now
    dispatch_nightly(local(LA, 2026, 3, 8, 4, 0))
    assert next_run_at(conn, local(LA, 2026, 3, 8, 4, 5)).isoformat() == "2026-03-09T02:30:00-07:00"
    conn.automatic = False
    assert next_run_at(conn, local(LA, 2026, 3, 8, 4, 5)) is None


def test_next_run_is_tomorrow_once_tonight_ran_even_before_its_time(app):
    """Just after midnight with tonight's run done already (started early by hand), the page must not promise
    another run at 2:30 today: the dispatcher runs a school once per local date."""
    school = scheduled_school(sync_time="02:30")
    conn = db.session.scalar(db.select(RosterConnection).filter_by(school_id=school.id))
    make_run(school, trigger="nightly", status="succeeded", local_date="2026-03-10")
    assert next_run_at(conn, local(LA, 2026, 3, 10, 0, 5)).isoformat() == "2026-03-11T02:30:00-07:00"
    assert next_run_at(conn, local(LA, 2026, 3, 9, 23, 55)).isoformat() == "2026-03-09T02:30:00-07:00"  # due now


def test_registering_the_tick_twice_keeps_one_cron_job(app):
    scheduler = Scheduler(queue_name="sync", connection=app.redis)
    register_schedule(scheduler)
    register_schedule(scheduler)  # a restart, or a second scheduler process

    jobs = list(scheduler.get_jobs())
    assert [job.id for job in jobs] == [TICK_JOB_ID]
    assert jobs[0].meta["cron_string"] == TICK_CRON == "*/5 * * * *"
    assert (jobs[0].func_name, jobs[0].origin) == ("jobs.schedule.tick", "sync")


def test_the_registered_tick_dispatches_when_a_worker_performs_it(app):
    school = scheduled_school(sync_time="00:00")  # due every day from midnight on
    scheduler = Scheduler(queue_name="sync", connection=app.redis)
    register_schedule(scheduler)
    scheduler.enqueue_job(next(iter(scheduler.get_jobs())))  # what the scheduler loop does when the cron time comes

    job = app.sync_queue.fetch_job(TICK_JOB_ID)
    assert TICK_JOB_ID in app.sync_queue.job_ids
    job.perform()
    assert [r.school_id for r in nightly_runs()] == [school.id]
    assert [j.id for j in scheduler.get_jobs()] == [TICK_JOB_ID]  # rescheduled for the next tick


def test_tick_command_prints_what_it_queued(app, runner):
    school = scheduled_school(sync_time="02:00")
    result = runner.invoke(args=["roster", "tick", "--now", "2026-03-02T02:05-08:00"])
    assert result.exit_code == 0, result.output
    assert f"Queued nightly sync of {school.name} for 2026-03-02" in result.output
    again = runner.invoke(args=["roster", "tick", "--now", "2026-03-02T02:10-08:00"])
    assert "No nightly syncs are due." in again.output
    bad = runner.invoke(args=["roster", "tick", "--now", "tomorrow"])
    assert bad.exit_code == 2 and "UTC offset" in bad.output
