"""A district CSV source's sync of one bundle, recorded as a source night (SourceNight, SourceNightRun) so that the
district overview's nights and the district digest show it as they show an API source's night.

    night, runs, waiting, refused = start_bundle_night(source, bundle, conns, trigger="received")

There is no SIS to read: the bundle was read at receipt, so the night starts in "planning" with records_read = the
users in the bundle, and each mapped school's own run (own lock, guard, apply, report) settles the night when it
ends (jobs.district_night.settle_night), which sends the digest once. One night per source at a time, as for the
API: while a night of the source is open, NightAlreadyRunning.
"""
import logging
from datetime import datetime, timezone

from sqlalchemy.exc import IntegrityError

from store.db import db
from store.models import Person, RosterBundle, RosterConnection, Source, SourceNight, SourceNightRun, SyncRun

from .connection import NotConfigured
from .district_night import NOT_IN_NIGHT, NightAlreadyRunning, enqueue_school_runs, open_night, settle_night
from .runs import SyncAlreadyRunning, create_run
from .sync import run_sync

log = logging.getLogger(__name__)
SCHOOL_JOB = "jobs.bundle_nights.run_bundle_school"


def start_bundle_night(source: Source, bundle: RosterBundle, conns: list[RosterConnection], *, trigger: str,
                       local_date: str | None = None, actor: Person | None = None, inline: bool = False
                       ) -> tuple[SourceNight | None, list[SyncRun], list[str], list[str]]:
    """Record the night and one run per school, then queue (or, inline, run) them; returns the night (None when
    another dispatcher recorded that local date's night first), the runs, the schools already syncing and the
    schools refused (with why). Raises NightAlreadyRunning while another night of the source is open."""
    db.session.execute(db.select(Source.id).where(Source.id == source.id).with_for_update())
    running = open_night(source.id)
    if running is not None:
        db.session.rollback()
        raise NightAlreadyRunning(running)
    now = datetime.now(timezone.utc)
    night = SourceNight(source_id=source.id, local_date=local_date, trigger=trigger, status="planning", schools=0,
                        records_read=bundle.users, requests=0, error_message="", digest_status="", started_at=now,
                        read_at=now)  # read at receipt: a night with no read_at would settle as "reader died"
    db.session.add(night)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None, [], [], []
    night.job_id = f"source-night-{source.id}-{night.id}"
    runs, waiting, refused = [], [], []
    for conn in conns:
        try:
            run = create_run(conn.school, trigger=trigger, local_date=local_date, actor=actor, bundle_id=bundle.id)
        except SyncAlreadyRunning:
            waiting.append(conn.school.name)
            continue
        except NotConfigured as exc:
            refused.append(f"{conn.school.name} ({exc})")
            continue
        db.session.add(SourceNightRun(night_id=night.id, run_id=run.id, school_id=conn.school_id,
                                      roles=",".join(sorted(conn.enabled_roles)), sis_school_id=conn.sis_school_id))
        night.schools += 1
        runs.append(run)
    if waiting or refused:
        night.error_message = NOT_IN_NIGHT + "; ".join(
            [f"{name}: already syncing" for name in waiting] + refused)
    db.session.commit()
    if not runs:
        settle_night(night.id)  # no school took part: the night ends "skipped" at once
    elif inline:
        for run in runs:
            run_bundle_school(run.id, night.id)
    else:
        enqueue_school_runs(runs, night.id, SCHOOL_JOB)
    return night, runs, waiting, refused


def run_bundle_school(run_id: int, night_id: int) -> None:
    """RQ job: one mapped school's run of the bundle (an ordinary run), then the night's outcome if it was last."""
    try:
        run_sync(run_id)
    finally:
        settle_night(night_id)
