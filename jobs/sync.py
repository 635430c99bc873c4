"""The RQ job: one school's sync (or preview) from fetch to apply, with progress, lock and clean failure."""
import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app

from connectors.client import OneRosterClient
from connectors.errors import ConnectorError
from connectors.redact import Redactor
from connectors.settings import ConnectionSettings
from store.db import db
from store.models import RosterBundle, RosterConnection, School, SyncIssue, SyncRun

from . import apply as applying
from .bundle_files import CSV_METHOD, bundle_pages, usable
from .confirm import confirm_leavers
from .connection import NotConfigured, get_connection, load_settings
from .directory import load_directory
from .early_people import EarlyPeople
from .fetch import fetch_roster
from .fields import field_names
from .locks import LockLost, SchoolLock
from .outbound import outbound_policy
from .plan import ArchiveGuardTripped, Planner, SyncOptions, SyncPlan, check_archive_guard
from .progress import ProgressWriter
from .report import send_run_report
from .runs import NOTHING_CHANGED, claim_run, finish_run, unforeseen

log = logging.getLogger(__name__)
DELTA_OVERLAP = timedelta(hours=1)
FULL_SYNC_EVERY = timedelta(days=7)


class SyncRefused(Exception):
    """The run cannot start or go on (no connection, undecryptable secret, too slow); the message is for the user."""


def choose_since(conn: RosterConnection, run: SyncRun, now: datetime) -> datetime | None:
    """A delta start for nightly runs after a recent full sync with unchanged settings; else None (full).

    A run allowed to archive more than usual (approved, or with a one-run threshold) needs a full fetch to archive.
    """
    last_full, mark = conn.last_full_sync_at, conn.high_water_mark
    overridden = run.archive_override or run.archive_threshold_override is not None
    if run.trigger != "nightly" or overridden or last_full is None or mark is None:
        return None
    if now - last_full > FULL_SYNC_EVERY or conn.settings_changed_at > last_full:
        return None
    return mark - DELTA_OVERLAP


def options_for(conn: RosterConnection, full: bool, *, csv_bundle: bool = False,
                version: str = "1.1") -> SyncOptions:
    """`csv_bundle`: the run reads a whole CSV file, so a delta's `tobedeleted` rows may archive (bulk: absence).
    `version`: the OneRoster version the run reads; another than the people's keys makes it a version move."""
    only_add = conn.additions_only
    return SyncOptions(roles=frozenset(conn.enabled_roles), parents=conn.sync_parents,
                       auto_update=conn.auto_update and not only_add, archive=conn.archive and not only_add,
                       full=full, no_update_roles=conn.update_excluded_roles,
                       no_archive_roles=conn.archive_excluded_roles, additions_only=only_add,
                       delta_archives_leaving=csv_bundle, version_moved=(conn.keyed_version or "1.1") != version)


@dataclass(frozen=True)
class Prepared:
    """What one run needs, read from the database before the fetch starts."""

    run_id: int
    school_id: int
    district_id: int
    connection_id: int
    settings: ConnectionSettings | None  # None for a CSV bundle run
    since: datetime | None
    options: SyncOptions
    preview: bool
    override: bool
    threshold: float
    expected: int  # people the fetch will probably bring (for the progress bar)
    bundle_id: int | None = None  # the CSV method: the bundle read instead of the API
    approved: int | None = None  # an approved held run: how many people the owner approved archiving
    bundle_path: str = ""
    sis_school_id: str = ""


def _prepare(run_id: int, redactor: Redactor, pages: "RosterPages") -> Prepared:
    """Read the run, its school and connection; note the threshold the run is held to; clear older issues."""
    run = db.session.get(SyncRun, run_id)
    school = db.session.get(School, run.school_id)
    conn = get_connection(run.school_id)
    bundle = db.session.get(RosterBundle, run.bundle_id) if run.bundle_id is not None else None
    if run.bundle_id is not None:
        if conn is None or conn.method != CSV_METHOD or not usable(bundle):
            raise SyncRefused("The CSV bundle this run was to read is no longer available (deleted after 30 days, "
                              "or the school left the CSV method). Send the bundle again, then sync.")
        settings, since = None, None
        options = options_for(conn, full=bundle.users_mode == "bulk", csv_bundle=True,
                              version=conn.keyed_version or "1.1")  # CSV ids are not an API version move
    else:
        settings = load_settings(conn, outbound_policy())
        redactor.add(settings.client_secret, settings.client_id)
        since = pages.since(conn, run, datetime.now(timezone.utc))
        options = options_for(conn, full=since is None, version=settings.oneroster_version)
    # A one-run threshold lives on the run row, so the next run is held to the saved threshold again.
    threshold = conn.archive_threshold_percent if run.archive_threshold_override is None \
        else run.archive_threshold_override
    # What a held run reports, even if the settings change later.
    run.archive_threshold_applied, run.archive_uncounted_roles = threshold, ",".join(sorted(options.no_archive_roles))
    previous = db.session.scalar(db.select(SyncRun.fetched).where(
        SyncRun.school_id == school.id, SyncRun.status == "succeeded").order_by(SyncRun.id.desc()).limit(1))
    job = Prepared(run_id, school.id, school.district_id, conn.id, settings, since, options,
                   preview=run.trigger == "preview", override=run.archive_override, threshold=threshold,
                   expected=previous or 0, bundle_id=run.bundle_id, bundle_path=bundle.stored_path if bundle else "",
                   sis_school_id=conn.sis_school_id,
                   approved=run.would_archive if run.archive_override and run.approved_at is not None else None)
    if bundle is not None:
        bundle.run_id = run_id
    db.session.execute(db.delete(SyncIssue).where(SyncIssue.run_id == run_id))
    db.session.commit()
    return job


class RosterPages:
    """Where a run's roster pages come from: the school's own SIS, read page by page (the default).

    A district night feeds the same planner from its spool instead (jobs.spool.SpooledPages).
    """

    def __init__(self, client_factory: Callable[[ConnectionSettings], OneRosterClient]):
        self.client_factory = client_factory
        self._client: OneRosterClient | None = None  # the run's client while open() reads

    def since(self, conn: RosterConnection, run: SyncRun, now: datetime) -> datetime | None:
        return choose_since(conn, run, now)

    @contextmanager
    def open(self, job: "Prepared", redactor: Redactor, *, deadline: float | None = None,
             keepalive: Callable[[], None] | None = None) -> Iterator[Iterator[tuple[str, list]]]:
        """(phase, page) for every page the run needs; raising means the fetch is incomplete. A wait the SIS asks
        for ends before `deadline` (time.monotonic) or fails the run, and calls `keepalive` meanwhile."""
        options = job.options
        with self.client_factory(job.settings) as client:
            if deadline is not None:
                client.bound_waits(deadline, keepalive)
            redactor.include(client.redactor)  # the tokens it obtains are masked in what the run stores
            self._client = client
            try:
                yield fetch_roster(client, job.settings.school_id, options.roles, parents=options.parents,
                                   since=job.since)
            finally:
                self._client = None

    def confirm(self, job: "Prepared", planner: Planner, redactor: Redactor, tick: Callable[[], None],
                out_of_time: Callable[[], bool]) -> list:
        """After a full read, inside open(): look up the people it would archive for being absent (jobs.confirm)."""
        return confirm_leavers(planner, lambda: nullcontext(self._client), job.settings.school_id, tick=tick,
                               out_of_time=out_of_time)


class BundlePages(RosterPages):
    """A stored OneRoster CSV bundle (the CSV method), read once for every role, parents first."""

    def __init__(self):
        super().__init__(client_factory=None)

    def since(self, conn: RosterConnection, run: SyncRun, now: datetime) -> datetime | None:
        return None  # a bundle is read whole; bulk or delta is the manifest's to say

    @contextmanager
    def open(self, job: "Prepared", redactor: Redactor, **_waits) -> Iterator[Iterator[tuple[str, list]]]:
        options = job.options
        with bundle_pages(job.bundle_path, job.sis_school_id, options.roles, parents=options.parents) as roster:
            yield roster

    def confirm(self, job: "Prepared", planner: Planner, redactor: Redactor, tick: Callable[[], None],
                out_of_time: Callable[[], bool]) -> list:
        return []  # a bundle's file is read whole, not paged: absent from it is absent


def _fetch_and_plan(job: Prepared, lock: SchoolLock, on_progress, pages: RosterPages,
                    redactor: Redactor) -> tuple[SyncPlan, ProgressWriter, EarlyPeople | None]:
    """Load the directory, then feed the roster page by page into the planner; returns the finished plan (and the
    new people already written, uncommitted, in the session's transaction)."""
    options, fields = job.options, field_names(job.options.compare_parents)
    directory = load_directory(job.school_id, job.district_id, fields)
    progress = ProgressWriter(job.run_id, max(directory.rostered_total, job.expected), on_progress)
    progress.write(phase="connecting", percent=2, full_fetch=options.full)
    planner = Planner(directory, options, fields)
    people = _early_writer(job, fields)
    limit = current_app.config["SYNC_MAX_MINUTES"]
    deadline = time.monotonic() + limit * 60

    def keepalive() -> None:  # every slice of a long wait the SIS asked for (20 s): no page renews them meanwhile
        lock.renew()
        progress.write()

    try:
        with pages.open(job, redactor, deadline=deadline, keepalive=keepalive) as roster, quiet_gc():
            for phase, page in roster:
                issues = planner.add_page(page)
                progress.page(phase, _live_counts(planner), issues)
                if people is not None:
                    people.feed(planner.plan)
                lock.renew_if_due()
                if time.monotonic() > deadline:
                    raise SyncRefused(too_slow_message(limit, planner.plan.counts["fetched"]))
            late = planner.settle()  # re-keyed people are not absent
            if options.full:
                late += pages.confirm(job, planner, redactor, lock.renew_if_due,
                                      out_of_time=lambda: time.monotonic() > deadline)
        if people is not None:
            people.feed(planner.plan, last=True)  # re-keys settled later make no new people
            people.settle()  # the session is free again (and a failed write fails the run here)
    except BaseException:
        if people is not None:
            people.settle(cancel=True)  # before run_sync rolls the session back
        raise
    finally:
        progress.flush()
    progress.write(late, phase="planning", percent=90)
    return planner.finish(), progress, people


def _early_writer(job: Prepared, fields: tuple[str, ...]) -> EarlyPeople | None:
    """On PostgreSQL a run that may apply writes its new people during the fetch, uncommitted (jobs.early_people);
    a preview writes only their "create" log rows (it never writes people). SQLite would hold its one write lock
    for the whole fetch and block the progress writes, so it writes at the end. Nothing may use db.session during
    the fetch."""
    if db.engine.dialect.name != "postgresql":
        return None
    return EarlyPeople(job.run_id, job.school_id, job.district_id, fields, log_only=job.preview)


def _conclude(job: Prepared, plan: SyncPlan, lock: SchoolLock, progress: ProgressWriter,
              people: EarlyPeople | None = None) -> None:
    """Record a preview, hold a run the archive guard stops, or apply the plan."""
    if job.preview:  # says when the real run would be held: a script's --preview before its import must hear it
        try:
            check_archive_guard(plan, job.threshold, job.override, job.approved)
            warning = ""
        except ArchiveGuardTripped as tripped:
            warning = tripped.hold.preview_sentence()
        applying.record_without_applying(job.run_id, plan, status="succeeded", logger=people, message=warning,
                                         would_hold=bool(warning))
        return
    try:
        check_archive_guard(plan, job.threshold, job.override, job.approved)
    except ArchiveGuardTripped as tripped:
        db.session.rollback()  # the new people written during the fetch are not added by a held run
        message = str(tripped)
        if job.options.no_archive_roles:
            message += " People of roles that Archive leaves alone are not counted."
        applying.record_without_applying(job.run_id, plan, status="needs_review", message=message,
                                         archives_only=True)
        return
    progress.write(phase="applying", percent=92)
    lock.renew()  # a run that lost its lock to another during planning must not apply
    apply_plan(job.run_id, job.school_id, job.district_id, plan, full=job.options.full,
               connection_id=job.connection_id,
               version=job.settings.oneroster_version if job.settings is not None else None, people=people)
    if job.bundle_id is not None:
        db.session.execute(db.update(RosterBundle).where(RosterBundle.id == job.bundle_id).values(
            status="synced", run_id=job.run_id))
        db.session.commit()


def _execute(run_id: int, lock: SchoolLock, on_progress, redactor: Redactor, pages: RosterPages) -> None:
    job = _prepare(run_id, redactor, pages)
    plan, progress, people = _fetch_and_plan(job, lock, on_progress, pages, redactor)
    _conclude(job, plan, lock, progress, people)


def too_slow_message(limit_minutes: float, fetched: int) -> str:
    return (f"The sync stopped after {limit_minutes:g} minutes, the longest a sync may take: the SIS sent its roster "
            f"too slowly ({fetched:,} people so far). Try again later; if it keeps happening, ask your SIS vendor "
            "whether their OneRoster API is slowed down for this school.")


FETCH_GC_THRESHOLD = (50_000, 20, 100)  # gen0 allocations; gen1 and gen2 counts of collections below them


@contextmanager
def quiet_gc():
    """The index and plan are long-lived and acyclic: freeze them out of GC scans during the fetch, and collect
    far less often meanwhile (a page's records are freed by reference counting; cycles are rare)."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*FETCH_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def make_client(settings) -> OneRosterClient:
    """One client (one HTTP session, one token) per run, held to the outbound policy its settings were checked by."""
    return OneRosterClient(settings, policy=outbound_policy())


def apply_plan(run_id, school_id, district_id, plan, *, full, connection_id, version=None, people=None) -> None:
    """Indirection so tests can make the apply step fail between fetch and apply."""
    applying.apply_plan(run_id, school_id, district_id, plan, full=full, connection_id=connection_id,
                        version=version, people=people)


def _live_counts(planner: Planner) -> dict[str, int]:
    totals = planner.plan.totals()
    return {k: totals[k] for k in ("fetched", "created", "updated", "linked", "skipped", "unchanged", "issues")}


def run_sync(run_id: int, *, on_progress: Callable[[dict], None] | None = None,
             client_factory: Callable[[ConnectionSettings], OneRosterClient] | None = None,
             pages: RosterPages | None = None) -> None:
    """RQ job: sync (or preview) the run's school; ends succeeded, failed, needs_review or skipped.

    `client_factory` builds the run's SIS client from its settings (default `make_client`); `pages` replaces
    the SIS read altogether (a district night's spool). Runs inside the app context the worker entry
    (portal.worker) pushes for every job.
    """
    db.session.expire_all()
    run = db.session.get(SyncRun, run_id)
    if run is None or run.status != "queued":
        log.info("sync run %s not started: %s", run_id, "missing" if run is None else run.status)
        return
    school_id, trigger = run.school_id, run.trigger
    lock = SchoolLock(current_app.redis, school_id, run_id)
    if not lock.acquire():
        finish_run(run_id, "skipped", "Another sync of this school was already running, so this one did "
                                      f"not start. {NOTHING_CHANGED}")
        return
    # While active, the run's secret and tokens are masked in its log lines, stored message and issues.
    with Redactor().active() as redactor:
        try:
            if not claim_run(run_id):
                return
            if pages is None:  # the CSV method reads its bundle; otherwise the school's SIS
                pages = BundlePages() if run.bundle_id is not None else RosterPages(client_factory or make_client)
            _execute(run_id, lock, on_progress, redactor, pages)
        except (ConnectorError, NotConfigured, SyncRefused, LockLost) as exc:
            db.session.rollback()
            log.warning("sync run %s failed: %s", run_id, exc)
            finish_run(run_id, "failed", f"{exc} {NOTHING_CHANGED}")
        except Exception as exc:  # noqa: BLE001 - any bug must end the run readably, not leave it running
            db.session.rollback()
            log.exception("sync run %s stopped unexpectedly (%s)", run_id, type(exc).__name__)
            finish_run(run_id, "failed", f"The sync stopped unexpectedly ({type(exc).__name__}). {unforeseen()} "
                                         f"{NOTHING_CHANGED}")
        finally:
            lock.release()
        if trigger != "preview":
            _send_report(run_id)


def _send_report(run_id: int) -> None:
    try:
        send_run_report(run_id)
    except Exception:  # noqa: BLE001 - a report failure must not turn a finished sync into a failed job
        log.exception("sync report for run %s failed", run_id)
