"""The nightly dispatcher: each tick starts every school whose local sync time has passed today.

Everything is computed from the district's zone on every tick, so DST changes and edits of the time
apply without a restart. One nightly run per school and local date is enforced by the database
(unique index on SyncRun(school_id, local_date)), so double ticks and second schedulers are harmless.
"""
import logging
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError

from store.db import db
from store.models import BlackoutPeriod, District, RosterConnection, School, Source, SourceNight, SyncRun
from store.vocabulary import date_text

from .bundles import prune_bundles
from .connection import NO_ROLES, NotConfigured
from .runs import SyncAlreadyRunning, mark_stale_runs_failed, start_sync

log = logging.getLogger(__name__)
DEFAULT_SYNC_TIME = time(2, 0)
TICK_JOB_ID = "rostering-nightly-tick"
TICK_CRON = "*/5 * * * *"
TICK_TIMEOUT = 300
TICK_JOB = "jobs.schedule.tick"  # by name, like every job: the worker imports it
# When a dispatcher tick last ran (or the scheduler registered it): with none for TICK_LATE_AFTER the pages say that
# nightly syncs are not starting, instead of "Due now" forever while the scheduler or the workers are down.
LAST_TICK_KEY = "portal:schedule:last-tick"
TICK_LATE_AFTER = timedelta(minutes=20)  # four 5-minute ticks missed


def parse_sync_time(value: str | None) -> time:
    try:
        hours, minutes = (int(part) for part in (value or "").split(":"))
        return time(hours, minutes)
    except ValueError:
        return DEFAULT_SYNC_TIME


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    # Through UTC: astimezone() to the zone a moment already carries returns it unchanged, gap or not.
    return moment.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)


def due_at(day: date, sync_time: time, zone: ZoneInfo) -> datetime:
    """The instant the sync is due on that local date, as an aware local datetime.

    A time skipped by spring-forward (02:30) is due at the first valid instant after the gap (03:00);
    a time repeated by fall-back (01:30) is due at its first occurrence.
    """
    wall = datetime.combine(day, sync_time)
    first = wall.replace(tzinfo=zone, fold=0)
    if _wall(first, zone) == wall:
        return first
    # In a gap: fold=1 maps before the jump, fold=0 after it; find the jump to the second.
    lo = wall.replace(tzinfo=zone, fold=1).astimezone(timezone.utc)
    hi = first.astimezone(timezone.utc)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if _wall(mid, zone) >= wall:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0).astimezone(zone)


def _local_date(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


def _utc_now(now: datetime | None) -> datetime:
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def has_nightly_run(school_id: int, local_date: date) -> bool:
    return db.session.scalar(db.select(SyncRun.id).where(
        SyncRun.school_id == school_id, SyncRun.local_date == local_date.isoformat()).limit(1)) is not None


def next_run_at(conn: RosterConnection, now: datetime | None = None) -> datetime | None:
    """When the dispatcher will start this school's next nightly run (local time); None when off.

    A moment at or before `now` means "due: it starts at the next tick".
    """
    source = conn.source if conn.source_id is not None else None
    if not conn.automatic or (source is not None and not source.automatic):
        return None
    now = _utc_now(now)
    zone = conn.school.district.zone
    sync_time = parse_sync_time(source.sync_time if source is not None else conn.sync_time)  # mapped: its night's
    due = night_due(now, sync_time, zone)
    if due is not None and not has_nightly_run(conn.school_id, due):
        return due_at(due, sync_time, zone)
    today = _local_date(now, zone)
    if due != today and not has_nightly_run(conn.school_id, today):  # tonight's is not done (nor started by hand)
        return due_at(today, sync_time, zone)
    return due_at(today + timedelta(days=1), sync_time, zone)


def night_due(now: datetime, sync_time: time, zone: ZoneInfo) -> date | None:
    """The local date whose night is due at `now`: today's once its time has passed, else yesterday's while `now` is
    nearer its time than today's. A tick that comes after midnight (a 23:59 time between 5-minute ticks, a tick
    queued behind long syncs, a scheduler back from a restart) still runs the night it missed, once, late; a night
    missed by more than that is left to the next, which is due sooner."""
    today = _local_date(now, zone)
    tonight = due_at(today, sync_time, zone)
    if now >= tonight:
        return today
    yesterday = today - timedelta(days=1)
    return yesterday if now - due_at(yesterday, sync_time, zone) < tonight - now else None


def due_schools(now: datetime) -> list[tuple[School, date]]:
    """Schools with Automatic Rostering on whose night is due (night_due) and has no run yet."""
    rows = db.session.execute(
        db.select(RosterConnection, School, District)
        .join(School, RosterConnection.school_id == School.id)
        .join(District, School.district_id == District.id)
        .where(RosterConnection.automatic.is_(True), RosterConnection.source_id.is_(None))  # mapped: its night
        .order_by(School.id)).all()
    candidates = [(school, day) for conn, school, district in rows
                  if (day := night_due(now, parse_sync_time(conn.sync_time), district.zone)) is not None]
    if not candidates:
        return []
    done = set(db.session.execute(db.select(SyncRun.school_id, SyncRun.local_date).where(
        SyncRun.school_id.in_([s.id for s, _ in candidates]),
        SyncRun.local_date.in_({d.isoformat() for _, d in candidates}))).all())
    return [(school, day) for school, day in candidates if (school.id, day.isoformat()) not in done]


def blackout_on(school_id: int, day: date) -> BlackoutPeriod | None:
    """The seasonal pause covering that local date, if any."""
    return db.session.scalar(db.select(BlackoutPeriod).where(
        BlackoutPeriod.school_id == school_id, BlackoutPeriod.starts_on <= day, BlackoutPeriod.ends_on >= day
    ).limit(1))


def _skip_for_blackout(school: School, day: date, now: datetime) -> bool:
    """In a seasonal pause, record a skipped nightly run (once per local date) instead of syncing."""
    period = blackout_on(school.id, day)
    if period is None:
        return False
    reason = f"Seasonal pause from {date_text(period.starts_on)} to {date_text(period.ends_on)}" + (
        f" ({period.note})" if period.note else "") + ": the nightly sync was skipped. Nothing was changed."
    _record_skipped(school, day, now, reason)
    log.info("nightly sync of %s for %s skipped: seasonal pause", school.slug, day)
    return True


def _record_skipped(school: School, day: date, now: datetime, reason: str) -> None:
    """A skipped nightly run in the school's history (once per local date), saying why."""
    db.session.add(SyncRun(school_id=school.id, trigger="nightly", status="skipped", phase="skipped",
                           local_date=day.isoformat(), error_message=reason, started_at=now, finished_at=now))
    try:
        db.session.commit()
    except IntegrityError:  # another scheduler recorded it a moment ago
        db.session.rollback()


def skipped_reason(exc: NotConfigured) -> str:
    """Why tonight's run was skipped, in the owner's words: what is missing and what to do."""
    if str(exc) == NO_ROLES:
        return NO_ROLES.replace("Nothing started", "The nightly sync was skipped")
    return f"The nightly sync was skipped, and nothing was changed: {exc}"


def dispatch_nightly(now: datetime | None = None) -> list[int]:
    """Start a nightly run for each due school; returns the run ids it queued.

    A school already syncing (or claimed by another scheduler a moment ago) is left for the next tick
    or is already done; only the night due now (night_due) is ever run, never a backlog of missed nights.
    """
    now = _utc_now(now)
    started = []
    for school, day in due_schools(now):
        if _skip_for_blackout(school, day, now):
            continue
        try:
            run = start_sync(school, trigger="nightly", local_date=day.isoformat())
        except SyncAlreadyRunning:
            log.info("nightly sync of %s for %s not started: another run is active or done", school.slug, day)
            continue
        except NotConfigured as exc:  # the history says why no sync ran tonight, once per night
            _record_skipped(school, day, now, skipped_reason(exc))
            log.warning("nightly sync of %s skipped: %s", school.slug, exc)
            continue
        started.append(run.id)
        log.info("nightly sync of %s for %s queued as run %s", school.slug, day, run.id)
    return started


def due_sources(now: datetime) -> list[tuple[Source, date]]:
    """Sources with Automatic Rostering on whose night is due (night_due, district's zone) and has not started."""
    rows = db.session.execute(db.select(Source, District).join(District, Source.district_id == District.id)
                              .where(Source.automatic.is_(True)).order_by(Source.id)).all()
    candidates = [(source, day) for source, district in rows
                  if (day := night_due(now, parse_sync_time(source.sync_time), district.zone)) is not None]
    if not candidates:
        return []
    done = set(db.session.execute(db.select(SourceNight.source_id, SourceNight.local_date).where(
        SourceNight.source_id.in_([s.id for s, _ in candidates]),
        SourceNight.local_date.in_({d.isoformat() for _, d in candidates}))).all())
    return [(source, day) for source, day in candidates if (source.id, day.isoformat()) not in done]


def dispatch_source_nights(now: datetime | None = None) -> list[int]:
    """Start each due source's night (one read for all its schools); returns the runs it queued."""
    from .district_night import night_runs, start_night
    from .source_bundles import CSV_SOURCE, start_source_nightly
    now = _utc_now(now)
    started = []
    for source, day in due_sources(now):
        if source.method == CSV_SOURCE:  # no SIS to read: each mapped school syncs the newest bundle received
            started += start_source_nightly(source, day)
            continue
        night = start_night(source, trigger="nightly", local_date=day)
        if night is None:
            log.info("night of source %s for %s not started: another dispatcher started it", source.id, day)
            continue
        started += [run.id for run in night_runs(night.id)]
        log.info("night of source %s for %s queued (%s schools)", source.id, day, night.schools)
    return started


def run_tick(now: datetime | None = None) -> list[int]:
    """One tick: fail runs whose worker died (so they stop blocking), end nights they leave open, delete CSV
    bundles past retention, then dispatch what is due: schools connected alone, and each source's night for its
    mapped schools."""
    from .district_night import settle_nights
    note_tick(current_app.redis, _utc_now(now))
    mark_stale_runs_failed()
    settle_nights()
    prune_bundles(now)
    return dispatch_nightly(now) + dispatch_source_nights(now)


def tick() -> list[int]:
    """The cron job rq-scheduler enqueues every few minutes; runs on a worker, in the app context it pushes."""
    run_ids = run_tick()
    if run_ids:  # the worker's console is where a newcomer watches the demo
        print(f"Nightly tick queued sync run(s) {', '.join(map(str, run_ids))}.", flush=True)
    return run_ids


def note_tick(redis, now: datetime) -> None:
    try:
        redis.set(LAST_TICK_KEY, now.isoformat())
    except RedisError:  # the tick's own work goes on; the pages will say the scheduler looks silent
        log.warning("could not record the dispatcher's tick in Redis")


def scheduler_silent_since(now: datetime | None = None) -> tuple[bool, datetime | None]:
    """(silent, last tick): silent when no tick ran (nor the scheduler started) for TICK_LATE_AFTER. The last tick
    is None when none was ever recorded. Redis down: not silent here (the pages say what else fails then)."""
    now = _utc_now(now)
    try:
        raw = current_app.redis.get(LAST_TICK_KEY)
    except RedisError:
        return False, None
    if raw is None:
        return True, None
    try:
        last = datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else raw)
    except (ValueError, UnicodeDecodeError):  # not ours: as if none was noted
        return True, None
    if last.tzinfo is None:
        last = last.replace(tzinfo=timezone.utc)
    try:
        last = last.astimezone(timezone.utc)
    except OverflowError:  # year 1 in a zone east of UTC: not ours either
        return True, None
    if last > now + TICK_LATE_AFTER:  # a clock far ahead (or a value not ours) must not hide the silence for ever
        return True, None
    return now - last > TICK_LATE_AFTER, last


def register_schedule(scheduler, cron: str = TICK_CRON, queue_name: str = "sync"):
    """Register the one cron tick, replacing any earlier registration so restarts never duplicate it (and count
    the start as a tick, so the pages give a new scheduler time for its first)."""
    note_tick(scheduler.connection, datetime.now(timezone.utc))
    scheduler.cancel(TICK_JOB_ID)
    return scheduler.cron(cron, func=TICK_JOB, id=TICK_JOB_ID, queue_name=queue_name, timeout=TICK_TIMEOUT,
                          result_ttl=3600, description="Rostering: start nightly syncs that are due")
