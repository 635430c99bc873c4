"""One row per school for the overview page, built with a fixed number of queries."""
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy.orm import joinedload

from jobs.schedule import next_run_at, parse_sync_time, scheduler_silent_since
from store.db import db
from store.models import Person, RosterConnection, School, SyncRun
from store.vocabulary import clock_text, moment_text


def local_text(moment: datetime) -> str:
    """A zone-aware local moment as the pages show it, with the zone's abbreviation: "Dec 2, 2026, 2:00 AM PST"."""
    return f"{moment_text(moment)} {moment:%Z}"


@dataclass(frozen=True)
class SchoolSchedule:
    school: School
    connected: bool
    automatic: bool
    sync_time: str  # "2:00 AM"
    zone: str
    next_run: str  # local wall time, "due now" or ""
    last_run: SyncRun | None
    last_run_at: str
    people: int = 0  # active people in the school's directory
    source_off: str = ""  # a mapped school whose own switch is on while its source's nights are off: the source's name


def scheduler_notice(zone, now: datetime | None = None) -> str:
    """What to say when the nightly dispatcher has been silent (its scheduler or every worker is down): otherwise
    a school due shows "Due now" for ever and its nights are skipped without a word. "" while it ticks."""
    silent, last = scheduler_silent_since(now)
    if not silent:
        return ""
    since = f"has not run since {local_text(last.astimezone(zone))}" if last else "has not run yet"
    return (f"Nightly syncs are not starting: the portal's scheduler {since} (it runs every few minutes). "
            "Nights due meanwhile wait for it, and a night missed by more than half a day is skipped. This is on "
            "the portal's side, not your SIS's: ask whoever runs the portal to check its scheduler and worker "
            "processes. Sync now works while a worker runs.")


def schedules_notice(rows: list["SchoolSchedule"], zone) -> str:
    """scheduler_notice for a list of schools: only when one of them syncs nightly."""
    return scheduler_notice(zone) if any(row.automatic for row in rows) else ""


def _latest_runs(school_ids: list[int]) -> dict[int, SyncRun]:
    """Each school's newest non-preview run (previews change nothing, so they are not a result)."""
    newest = (db.select(SyncRun.school_id, db.func.max(SyncRun.id).label("id"))
              .where(SyncRun.school_id.in_(school_ids), SyncRun.trigger != "preview")
              .group_by(SyncRun.school_id).subquery())
    runs = db.session.scalars(db.select(SyncRun).join(newest, SyncRun.id == newest.c.id))
    return {run.school_id: run for run in runs}


def _people_counts(school_ids: list[int]) -> dict[int, int]:
    """Active people per school, one grouped query."""
    rows = db.session.execute(db.select(Person.school_id, db.func.count()).where(
        Person.school_id.in_(school_ids), Person.status == "active").group_by(Person.school_id))
    return dict(rows.all())


def _next_run_text(conn: RosterConnection, now: datetime) -> str:
    moment = next_run_at(conn, now)
    if moment is None:
        return ""
    if moment <= now:
        return "Due now: starts within a few minutes"
    return local_text(moment)


def school_schedules(schools: list[School], now: datetime | None = None) -> list[SchoolSchedule]:
    now = now or datetime.now(timezone.utc)
    ids = [s.id for s in schools]
    conns = {c.school_id: c for c in db.session.scalars(
        db.select(RosterConnection).where(RosterConnection.school_id.in_(ids))
        .options(joinedload(RosterConnection.source)))}  # has_secret of a mapped school reads its source
    runs = _latest_runs(ids)
    people = _people_counts(ids)
    rows = []
    for school in schools:
        conn, run, zone = conns.get(school.id), runs.get(school.id), school.district.zone
        moment = run and (run.finished_at or run.started_at or run.created_at)
        # A mapped school syncs in its source's night: the source's time, and only while the source's nights are on
        # (the school's own time and switch alone said "On nightly at 2:00 AM" beside "No nightly run scheduled").
        source = conn.source if conn is not None and conn.source_id is not None else None
        own_on = bool(conn and conn.automatic)
        rows.append(SchoolSchedule(
            school=school, connected=bool(conn and conn.can_sync), automatic=own_on and (source is None or source.automatic),
            sync_time=clock_text(parse_sync_time(source.sync_time if source else conn.sync_time if conn else None)),
            zone=zone.key, source_off=source.name if source is not None and own_on and not source.automatic else "",
            next_run=_next_run_text(conn, now) if conn and conn.can_sync else "",
            last_run=run, last_run_at=local_text(moment.astimezone(zone)) if moment else "",
            people=people.get(school.id, 0)))
    return rows
