"""The run lifecycle: create and queue, claim, finish, approve or discard, and fail runs whose worker died."""
import logging
from datetime import datetime, timedelta, timezone

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy.exc import IntegrityError

from connectors.redact import redact_active
from store.db import db
from store.models import AuditEvent, Person, RosterBundle, School, SyncChange, SyncRun
from store.vocabulary import TRIGGERS

from .bundle_files import CSV_METHOD, NO_BUNDLE, OLDER_THAN_SOURCE, bundle_serves, latest_usable_bundle, usable
from .connection import NO_CONNECTION, NO_ROLES, NotConfigured, get_connection
from .locks import lock_holder, release_if_idle
from .thresholds import parse_threshold_override

STALE_AFTER = timedelta(minutes=5)
QUEUE_GRACE = timedelta(seconds=60)  # a queued run's job is written just after the row
ACTIVE = ("queued", "running")
NOTHING_CHANGED = "Nothing was changed."


def unforeseen(retry: str = "Sync again", tell: str = "this run's number") -> str:
    """After a failure nobody foresaw, what the reader can do (the worker's log holds the traceback, the page must
    not): a run, an undo and a district night each say it with their own retry and their own way to be found."""
    return (f"{retry}; if it stops the same way, give the portal's administrator {tell} (the worker's log says what "
            "went wrong).")
DEAD_JOB_STATES = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED}
SYNC_JOB = "jobs.sync.run_sync"  # enqueued by name: the worker imports it, nothing here needs to
JOB_TIMEOUT_MARGIN = 3600  # beyond SYNC_MAX_MINUTES: the sync stops itself, readably, well before RQ kills it
START_GUARD_SECONDS = 10
log = logging.getLogger(__name__)


class SyncAlreadyRunning(Exception):
    """A run of this school is queued or running; `run` is that run."""

    def __init__(self, run: SyncRun | None):
        self.run = run
        super().__init__("A sync of this school is already queued or running; wait for it to finish.")


def claim_run(run_id: int) -> bool:
    """queued → running atomically; False when another delivery of the same job got there first."""
    stamp = datetime.now(timezone.utc)
    with db.engine.begin() as conn:
        result = conn.execute(db.update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == "queued")
                              .values(status="running", phase="connecting", percent=1, started_at=stamp,
                                      heartbeat_at=stamp, finished_at=None, error_message=""))
    return result.rowcount == 1


# A failed run changed nothing, so it shows no changes: the live counts of its fetch (people it would have created
# or updated) read as done beside "Nothing was changed". What it read, skipped and found stays.
NO_CHANGES = {"created": 0, "updated": 0, "linked": 0, "archived": 0}


def finish_run(run_id: int, status: str, message: str = "", **values) -> bool:
    """Set a final status on its own connection (the apply transaction may have rolled back), if the run has none
    yet: a run whose apply committed ("succeeded") stays so whatever fails after it. False when it had one.

    The message may carry SIS output, so it is stored masked (see connectors.redact). A failed run changed nothing,
    so its change log (an approved run's rows from when it was held) goes with its change counts.
    """
    values = {"finished_at": datetime.now(timezone.utc), **(NO_CHANGES if status == "failed" else {}), **values}
    with db.engine.begin() as conn:
        ended = conn.execute(db.update(SyncRun).where(SyncRun.id == run_id, SyncRun.status.in_(ACTIVE)).values(
            status=status, phase=status, error_message=redact_active(message), **values)).rowcount
        if status == "failed" and ended:
            conn.execute(db.delete(SyncChange).where(SyncChange.run_id == run_id))
    return bool(ended)


def _job_gone(redis, job_id: str | None) -> bool:
    if not job_id:
        return False  # an inline (CLI) run has no job; its heartbeat (or, before it is claimed, its age) decides
    try:
        return Job.fetch(job_id, connection=redis).get_status(refresh=True) in DEAD_JOB_STATES
    except NoSuchJobError:
        return True
    except RedisError:
        log.warning("Could not look up sync job %s: Redis is unavailable", job_id)
        return False  # cannot tell; a run that really died is caught by its heartbeat later


def mark_stale_runs_failed(school_id: int | None = None, *, now: datetime | None = None, redis=None) -> list[int]:
    """Fail runs left queued/running by a dead worker: stale heartbeat (> 5 min) or their job is gone.

    A dead run's school lock is freed too, so Sync now works at once instead of saying a sync is running for the
    rest of its lease (up to 5 more minutes) while the page shows the run failed.
    """
    redis = redis if redis is not None else current_app.redis
    now = now or datetime.now(timezone.utc)
    query = db.select(SyncRun).where(SyncRun.status.in_(ACTIVE))
    if school_id is not None:
        query = query.where(SyncRun.school_id == school_id)
    stale = []
    for run in db.session.scalars(query):
        beat = run.heartbeat_at or run.started_at
        if run.status == "queued" and not run.job_id:
            beat = beat or run.created_at  # an inline run killed before its claim: no worker will ever start it
        if (run.status == "running" or not run.job_id) and beat and now - beat > STALE_AFTER:
            reason = (f"The worker running this sync stopped responding (no progress for more than "
                      f"{int(STALE_AFTER.total_seconds() // 60)} minutes). {NOTHING_CHANGED}")
        elif run.status == "queued" and now - run.created_at > QUEUE_GRACE and \
                _job_gone(redis, run.job_id):
            # Queued runs only: a running run's job vanishes too when Redis restarts, but its fresh heartbeat
            # shows a live worker that will finish it.
            reason = ("The sync job was lost before it started (its worker stopped or the job queue restarted). "
                      f"{NOTHING_CHANGED}")
        else:
            continue
        stale.append((run.id, run.school_id, reason))
    db.session.commit()  # the read ends before finish_run writes on its own connection (SQLite has one writer)
    # finish_run fails a run only while still queued or running: one that committed "succeeded" since it was read
    # keeps its result
    ended = [(school, run_id) for run_id, school, reason in stale if finish_run(run_id, "failed", reason,
                                                                                 finished_at=now)]
    for school, run_id in ended:
        release_if_idle(redis, school, run_id, int(STALE_AFTER.total_seconds()))
    return [run_id for _, run_id in ended]


def active_run(school_id: int) -> SyncRun | None:
    """The school's queued or running run, if any."""
    return db.session.scalar(db.select(SyncRun).where(SyncRun.school_id == school_id,
                                                      SyncRun.status.in_(ACTIVE)).order_by(SyncRun.id.desc()))


def _enqueue(run: SyncRun, suffix: str = "") -> SyncRun:
    run.job_id = f"sync-school-{run.school_id}-run-{run.id}{suffix}"
    db.session.commit()  # the job id is on the row before a fast worker can look for it
    timeout = int(current_app.config["SYNC_MAX_MINUTES"] * 60) + JOB_TIMEOUT_MARGIN
    current_app.sync_queue.enqueue(SYNC_JOB, run.id, job_id=run.job_id, job_timeout=timeout,
                                   result_ttl=86400, failure_ttl=7 * 86400)
    return run


FOLLOWS_SOURCE = ("This bundle was received before the school followed its district's source, so it is not synced: the "
                  "school's runs read the district source's bundles. Press Sync now to sync the newest of those, or "
                  "ask a District Manager to send the district source a new bundle.")


def _run_bundle(conn, bundle_id: int | None) -> int | None:
    """The bundle a CSV-method run reads (the one named, else the newest valid one); None for the API method."""
    if conn.method != CSV_METHOD:
        if bundle_id is not None:
            raise NotConfigured("This school syncs from the OneRoster API; choose the CSV method on the Rostering "
                                "page to sync a CSV bundle.")
        return None
    bundle = db.session.get(RosterBundle, bundle_id) if bundle_id is not None else \
        latest_usable_bundle(conn.school_id, conn.source_id)
    if bundle is not None and not bundle_serves(bundle, conn.school_id, conn.source_id):
        if bundle.school_id == conn.school_id:  # the school's own, from before it followed a district source
            raise NotConfigured(FOLLOWS_SOURCE if conn.source_id is not None else OLDER_THAN_SOURCE)
        bundle = None
    if not usable(bundle):
        raise NotConfigured(NO_BUNDLE)
    return bundle.id


def create_run(school: School, *, trigger: str, actor: Person | None = None, local_date: str | None = None,
               threshold_override=None, bundle_id: int | None = None) -> SyncRun:
    """A queued run, refused with SyncAlreadyRunning while another run of the school is active.

    `threshold_override` (percent, or empty) replaces the saved archive threshold for this run only. A school on
    the CSV method reads `bundle_id` (default: its newest valid bundle) instead of the API.
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {TRIGGERS}")
    conn = get_connection(school)
    if conn is None or not conn.can_sync:
        raise NotConfigured(NO_CONNECTION)
    if not conn.enabled_roles:  # saved before the settings form refused it, or set by hand
        raise NotConfigured(NO_ROLES)
    bundle_id = _run_bundle(conn, bundle_id)
    override = parse_threshold_override(threshold_override)
    guard = f"portal:sync-start:school:{school.id}"
    if not current_app.redis.set(guard, "1", nx=True, ex=START_GUARD_SECONDS):
        raise SyncAlreadyRunning(active_run(school.id))
    try:
        mark_stale_runs_failed(school.id)
        running = active_run(school.id)
        if running is not None or lock_holder(current_app.redis, school.id):
            raise SyncAlreadyRunning(running)
        run = SyncRun(school_id=school.id, trigger=trigger, status="queued", phase="queued",
                      requested_by_id=actor.id if actor else None, local_date=local_date,
                      archive_threshold_override=override, bundle_id=bundle_id)
        db.session.add(run)
        try:
            db.session.commit()
        except IntegrityError:  # a nightly run for that local date already exists
            db.session.rollback()
            raise SyncAlreadyRunning(db.session.scalar(db.select(SyncRun).filter_by(
                school_id=school.id, local_date=local_date))) from None
        if trigger != "preview":
            _replace_held(run)
        if trigger in ("manual", "preview"):
            saved = conn.archive_threshold_percent
            once = "" if override is None else (f" For this run only, archiving up to {override:g}% of rostered "
                                                f"people is allowed (saved threshold {saved:g}%).")
            AuditEvent.record(school, actor, "sync_previewed" if trigger == "preview" else "sync_started",
                              f"Run #{run.shown_number}.{once}")
            db.session.commit()
        return run
    finally:
        current_app.redis.delete(guard)


def _replace_held(run: SyncRun) -> None:
    """Older runs of the school waiting for review end when a new sync starts: it reads the roster again, so theirs
    is out of date. Left live, an approved old one re-ran and 'succeeded' beside the new held one."""
    db.session.execute(db.update(SyncRun).where(
        SyncRun.school_id == run.school_id, SyncRun.id < run.id, SyncRun.status == "needs_review").values(
        status="skipped", phase="skipped",
        error_message=f"Replaced by sync #{run.shown_number}, which reads the roster again (review that one if it "
                      f"is held too). {NOTHING_CHANGED}"))
    db.session.commit()


def start_sync(school: School, *, trigger: str = "manual", actor: Person | None = None,
               local_date: str | None = None, threshold_override=None, bundle_id: int | None = None) -> SyncRun:
    """Create the run and queue `jobs.sync.run_sync(run_id)`; a bad threshold_override raises InvalidSettings."""
    return _enqueue(create_run(school, trigger=trigger, actor=actor, local_date=local_date,
                               threshold_override=threshold_override, bundle_id=bundle_id))


def approve_run(run: SyncRun, actor: Person | None) -> SyncRun:
    """An owner accepts a run stopped by the archive guard: it is re-queued and archives as planned."""
    if run.status != "needs_review":
        raise ValueError("Only a sync waiting for review can be approved.")
    if run.bundle_id is not None and (later := _applied_since(run)) is not None:
        raise ValueError(f"Sync #{later.shown_number} has run since this one was held, so this run's CSV bundle is "
                         "an older roster than the one the school has now; approving it would archive people by that "
                         "older roster. Discard this run.")
    mark_stale_runs_failed(run.school_id)
    if active_run(run.school_id) is not None:
        raise SyncAlreadyRunning(active_run(run.school_id))
    run.status, run.phase, run.percent, run.error_message = "queued", "queued", 0, ""
    run.archive_override, run.approved_by_id = True, actor.id if actor else None
    run.approved_at, run.finished_at = datetime.now(timezone.utc), None
    run.report_status, run.report_error = "", ""  # the approved outcome gets its own report
    AuditEvent.record(run.school, actor, "sync_approved", f"Run #{run.shown_number}: approved archiving {run.would_archive} "
                                                          f"of {run.rostered_total} rostered people.")
    return _enqueue(run, "-approved")


def _applied_since(run: SyncRun) -> SyncRun | None:
    """A run of the school that changed its directory after `run` was held (a bundle run re-reads its own bundle
    when approved, unlike an API run, which reads the SIS as it is then)."""
    return db.session.scalar(db.select(SyncRun).where(
        SyncRun.school_id == run.school_id, SyncRun.id > run.id, SyncRun.status == "succeeded",
        SyncRun.trigger != "preview").order_by(SyncRun.id).limit(1))


def discard_run(run: SyncRun, actor: Person | None) -> SyncRun:
    """An owner rejects a run stopped by the archive guard; nothing it planned is applied."""
    if run.status != "needs_review":
        raise ValueError("Only a sync waiting for review can be discarded.")
    name = actor.full_name if actor else "an operator"
    run.status, run.phase = "skipped", "skipped"
    run.error_message = f"Discarded by {name} after review. {NOTHING_CHANGED}"
    AuditEvent.record(run.school, actor, "sync_discarded", f"Run #{run.shown_number} discarded.")
    db.session.commit()
    return run
