"""Run state changes outside the apply: claim, fail, and find runs whose worker died."""
import logging
from datetime import datetime, timedelta, timezone

from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from connectors.redact import redact_active
from portal.extensions import db
from portal.models import SyncRun

STALE_AFTER = timedelta(minutes=5)
QUEUE_GRACE = timedelta(seconds=60)  # a queued run's job is written just after the row
ACTIVE = ("queued", "running")
NOTHING_CHANGED = "Nothing was changed."
DEAD_JOB_STATES = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED}
log = logging.getLogger(__name__)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo:
        return moment
    return moment.replace(tzinfo=timezone.utc)  # SQLite hands back naive UTC


def claim_run(run_id: int) -> bool:
    """queued → running atomically; False when another delivery of the same job got there first."""
    stamp = datetime.now(timezone.utc)
    with db.engine.begin() as conn:
        result = conn.execute(db.update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == "queued")
                              .values(status="running", phase="connecting", percent=1, started_at=stamp,
                                      heartbeat_at=stamp, finished_at=None, error_message=""))
    return result.rowcount == 1


def finish_run(run_id: int, status: str, message: str = "", **values) -> None:
    """Set a final status on its own connection (the apply transaction may have rolled back).

    The message may carry SIS output, so it is stored masked (see connectors.redact).
    """
    with db.engine.begin() as conn:
        conn.execute(db.update(SyncRun).where(SyncRun.id == run_id).values(
            status=status, phase=status, error_message=redact_active(message), finished_at=datetime.now(timezone.utc),
            **values))


def _job_gone(redis, job_id: str | None) -> bool:
    if not job_id:
        return False  # an inline (CLI) run has no job; its heartbeat decides
    try:
        return Job.fetch(job_id, connection=redis).get_status(refresh=True) in DEAD_JOB_STATES
    except NoSuchJobError:
        return True
    except RedisError:
        log.warning("Could not look up sync job %s: Redis is unavailable", job_id)
        return False  # cannot tell; a run that really died is caught by its heartbeat later


def mark_stale_runs_failed(school_id: int | None = None, *, now: datetime | None = None, redis=None) -> list[int]:
    """Fail runs left queued/running by a dead worker: stale heartbeat (> 5 min) or their job is gone."""
    from flask import current_app
    redis = redis if redis is not None else current_app.redis
    now = now or datetime.now(timezone.utc)
    query = db.select(SyncRun).where(SyncRun.status.in_(ACTIVE))
    if school_id is not None:
        query = query.where(SyncRun.school_id == school_id)
    failed = []
    for run in db.session.scalars(query):
        beat = _aware(run.heartbeat_at or run.started_at)
        if run.status == "running" and beat and now - beat > STALE_AFTER:
            reason = (f"The worker running this sync stopped responding (no progress for more than "
                      f"{int(STALE_AFTER.total_seconds() // 60)} minutes). {NOTHING_CHANGED}")
        elif run.status == "queued" and now - _aware(run.created_at) > QUEUE_GRACE and \
                _job_gone(redis, run.job_id):
            # Queued runs only: a running run's job vanishes too when Redis restarts, but its fresh heartbeat
            # shows a live worker that will finish it.
            reason = ("The sync job was lost before it started (its worker stopped or the job queue restarted). "
                      f"{NOTHING_CHANGED}")
        else:
            continue
        failed.append(run.id)
        run.status, run.phase, run.error_message, run.finished_at = "failed", "failed", reason, now
    db.session.commit()
    return failed


def active_run(school_id: int) -> SyncRun | None:
    """The school's queued or running run, if any."""
    return db.session.scalar(db.select(SyncRun).where(SyncRun.school_id == school_id,
                                                      SyncRun.status.in_(ACTIVE)).order_by(SyncRun.id.desc()))
