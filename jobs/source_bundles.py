"""A district CSV source receives OneRoster CSV bundles (SFTP, upload) for all its mapped schools at once.

    bundle = accept_source_bundle(source_id, "/tmp/upload.zip", via="sftp", filename="export.zip")

The bundle is stored once (BUNDLE_DIR/sources/<id>/) and validated once: a bundle with errors changes no school.
The same pass over users.csv files each mapped school's records beside the bundle, so each school's own run (own
run row, lock, archive guard, all-or-nothing apply, change log, issues, report) loads its records without reading
the CSV again. Runs start at once or at the source's nightly time (Source.csv_sync_on_receipt); one school's failure
leaves the others applied.
"""
import logging
import os
from dataclasses import asdict
from datetime import date
from pathlib import Path

from connectors.csvbundle import BundleInvalid, BundleRefused, Report, open_bundle
from connectors.csvbundle.partition import school_pages
from connectors.csvbundle.spool import keep_page, start_kept
from store.db import db
from store.models import RosterBundle, RosterConnection, School, Source, SourceNight, SourceNightRun, SyncRun

from .bundle_files import CSV_METHOD, PAGE_SIZE, _kept_for, bundle_limits, kept_path, latest_usable_bundle, \
    store_file, wanted_roles
from .bundle_nights import start_bundle_night
from .bundle_report import send_bundle_report
from .bundles import KEEP_BUNDLES, VIA, record_check
from .district_night import NightAlreadyRunning, paused

log = logging.getLogger(__name__)
CSV_SOURCE = "csv"  # Source.method of a district source that receives OneRoster CSV
CHECK_JOB = "jobs.source_bundles.check_source_bundle"  # enqueued by name by the source's upload page
NOT_CHECKED = ("The portal could not check this bundle (an internal error, logged for the administrator); nothing "
               "was synced. Send it again; if it keeps happening, tell the portal's administrator.")


def mapped_csv_connections(source_id: int) -> list[RosterConnection]:
    return list(db.session.scalars(db.select(RosterConnection).join(School).where(
        RosterConnection.source_id == source_id).order_by(School.name)))


def store_source_bundle(source_id: int, path, *, via: str, filename: str) -> RosterBundle:
    """Move the file into the source's bundle storage and record it as received (not yet validated)."""
    if via not in VIA:
        raise ValueError(f"via must be one of {VIA}")
    stored, size = store_file(None, path, filename, source_id=source_id)
    bundle = RosterBundle(source_id=source_id, via=via, filename=(filename or "bundle")[:255], stored_path=stored,
                          size=size, status="received", summary="Received; checking the files.")
    db.session.add(bundle)
    db.session.commit()
    return bundle


def validate_source_bundle(bundle: RosterBundle) -> list[RosterConnection]:
    """Validate the stored file once, keep each listed mapped school's records beside it, record the outcome
    (committed); returns the mapped schools orgs.csv lists (those a run may sync now)."""
    kept = []

    def read() -> Report:
        conns = mapped_csv_connections(bundle.source_id)
        try:
            report, schools = _read_and_keep(bundle, conns, keep=True)
        except OSError:  # the records could not be kept (disk full?): validate alone; runs read the bundle itself
            log.warning("keeping the records of source CSV bundle %s failed", bundle.id, exc_info=True)
            report, schools = _read_and_keep(bundle, conns, keep=False)
        kept.extend(schools)
        return report
    record_check(bundle, read)
    return kept if bundle.status == "valid" else []


def _read_and_keep(bundle: RosterBundle, conns: list[RosterConnection], *, keep: bool
                   ) -> tuple[Report, list[RosterConnection]]:
    """The bundle's report and the mapped schools orgs.csv lists (with `keep`, their records kept as it reads)."""
    with open_bundle(bundle.stored_path, bundle_limits()) as csv_bundle:
        report = csv_bundle.report
        kept = [conn for conn in conns if report.applicable and csv_bundle.lists_school(conn.sis_school_id)
                and conn.enabled_roles]
        if kept and keep:
            _keep_school_records(csv_bundle, bundle.stored_path, kept)
        else:
            csv_bundle.validate()
        bundle.version, bundle.users_mode = csv_bundle.version or "", csv_bundle.users_mode or ""
        bundle.users = csv_bundle.users_read
    return report, kept if report.applicable else []


def _keep_school_records(csv_bundle, stored_path: str, conns: list[RosterConnection]) -> None:
    """One pass over users.csv: validate it and write each school's records to its own kept file (nothing is kept
    when the bundle has errors)."""
    wanted = {conn.sis_school_id: wanted_roles(conn.enabled_roles, conn.sync_parents) for conn in conns}
    paths = {conn.sis_school_id: kept_path(stored_path, conn.sis_school_id) for conn in conns}
    files = {sid: open(path + ".part", "wb") for sid, path in paths.items()}
    try:
        for conn in conns:
            start_kept(files[conn.sis_school_id], _kept_for(conn.sis_school_id, conn.enabled_roles,
                                                            conn.sync_parents))
        try:
            for pages in school_pages(csv_bundle, wanted, page_size=PAGE_SIZE):
                for sid, page in pages.items():
                    if page:
                        keep_page(files[sid], page)
        except BundleInvalid:
            return  # the errors are in the report
        for sid, out in files.items():
            out.close()
            os.replace(out.name, paths[sid])
    finally:
        for out in files.values():
            out.close()
            Path(out.name).unlink(missing_ok=True)


def sync_source_bundle(bundle: RosterBundle, conns: list[RosterConnection], *, trigger: str = "received",
                       local_date: str | None = None, actor=None, inline: bool = False) -> list[SyncRun]:
    """Start each mapped school's own run of the bundle, as one night of the source (jobs.bundle_nights); a school
    already syncing waits (said in the summary). Raises NightAlreadyRunning while a night of the source is open,
    except for a received bundle, which then waits (said in the summary)."""
    try:
        _, runs, waiting, refused = start_bundle_night(bundle.source, bundle, conns, trigger=trigger,
                                                       local_date=local_date, actor=actor, inline=inline)
    except NightAlreadyRunning:
        if trigger != "received":
            raise
        bundle.summary += (" A sync of this source's schools was still running, so this bundle waits for Sync now "
                           "or the nightly sync.")
        db.session.commit()
        return []
    if trigger == "received":
        bundle.summary += f" Sync started for {len(runs)} school{'s' if len(runs) != 1 else ''}."
        if waiting:
            bundle.summary += f" Already syncing, so waiting for the nightly sync: {', '.join(waiting)}."
        if refused:
            bundle.summary += f" Not synced: {'; '.join(refused)}."
        db.session.commit()
    return runs


def _unlisted_sentence(bundle: RosterBundle, kept: list[RosterConnection]) -> None:
    """Say which mapped schools this bundle does not carry (their runs would read nobody, so none starts)."""
    names = [conn.school.name for conn in mapped_csv_connections(bundle.source_id) if conn not in kept]
    if names:
        bundle.summary += (f" Not in this bundle's orgs.csv (or no roles chosen), so not synced: "
                           f"{', '.join(names[:10])}{' and others' if len(names) > 10 else ''}.")


def check_source_bundle(bundle_id: int, sync: bool | None = None) -> None:
    """RQ job (and the inline step of accept_source_bundle): validate a stored source bundle, then sync its mapped
    schools if wanted (`sync` None: the source's csv_sync_on_receipt)."""
    check_and_list(bundle_id, sync)


def check_and_list(bundle_id: int, sync: bool | None = None) -> list[RosterConnection]:
    """check_source_bundle's work; returns the mapped schools a run may sync from the bundle (none unless valid)."""
    bundle = db.session.get(RosterBundle, bundle_id)
    if bundle is None or bundle.status != "received" or bundle.source_id is None:
        return []
    kept = []
    try:
        kept = validate_source_bundle(bundle)
    except Exception:  # never left "received" for ever: refused, said so, nothing changed
        log.exception("CSV bundle %s of source %s could not be checked", bundle.id, bundle.source_id)
        db.session.rollback()
        bundle.status, bundle.summary = "refused", NOT_CHECKED
        db.session.commit()
    log.info("CSV bundle %s of source %s: %s (%s schools)", bundle.id, bundle.source_id, bundle.status, len(kept))
    if bundle.status != "valid":
        send_bundle_report(bundle.id)  # no school's run will say it: the district's managers hear of it
        return []
    _unlisted_sentence(bundle, kept)
    db.session.commit()
    wanted = sync if sync is not None else bundle.source.csv_sync_on_receipt == "now"
    if wanted and kept:
        sync_source_bundle(bundle, kept)
    return kept


def accept_source_bundle(source_id: int, path, *, via: str, filename: str, sync: bool | None = None
                         ) -> RosterBundle:
    """Keep, validate and (if wanted) start syncing a bundle a CSV source received; returns its row."""
    bundle = store_source_bundle(source_id, path, via=via, filename=filename)
    check_source_bundle(bundle.id, sync)
    db.session.refresh(bundle)
    return bundle


def start_source_nightly(source: Source, day: date) -> list[int]:
    """The nightly time of a CSV source: each mapped school syncs the newest valid bundle (one night per source and
    local date, one run per school and local date, as for a school's own CSV method); returns the runs queued. While
    another night of the source is still open, nothing starts and the next tick tries again."""
    bundle = latest_usable_bundle(0, source.id)
    if bundle is None:
        return []
    done = set(db.session.scalars(db.select(SyncRun.school_id).where(SyncRun.local_date == day.isoformat(),
                                                                      SyncRun.trigger == "nightly")))
    conns = [conn for conn in mapped_csv_connections(source.id)
             if conn.method == CSV_METHOD and conn.enabled_roles and conn.school_id not in done
             and conn.automatic  # the school's own Automatic Rostering switch, as in an API source's night
             and not paused(db.session.get(School, conn.school_id), day)]  # a seasonal pause: skipped, recorded
    try:
        return [run.id for run in sync_source_bundle(bundle, conns, trigger="nightly", local_date=day.isoformat())]
    except NightAlreadyRunning:
        log.info("night of CSV source %s for %s not started: another night of it is still open", source.id, day)
        return []


def bundle_schools(source: Source) -> list[dict] | None:
    """orgs.csv's schools (type school) in the source's newest valid bundle that lists any (a delta orgs.csv often
    lists none), as a source test lists an SIS's schools; None before a valid bundle arrived."""
    found = None
    for bundle in db.session.scalars(db.select(RosterBundle).where(
            RosterBundle.source_id == source.id, RosterBundle.status.in_(("valid", "synced")),
            RosterBundle.deleted_at.is_(None)).order_by(RosterBundle.received_at.desc(), RosterBundle.id.desc())
            .limit(KEEP_BUNDLES)):
        try:
            with open_bundle(bundle.stored_path, bundle_limits()) as csv_bundle:
                schools = csv_bundle.schools()
        except (BundleRefused, OSError):
            continue
        if schools:
            return [asdict(school) for school in sorted(schools, key=lambda s: (s.name.lower(), s.source_id))]
        found = []
    return found


def delete_source_rows(source_id: int) -> None:
    """What the foreign keys' ON DELETE does on PostgreSQL, done by hand before a source is deleted: SQLite (the
    demo's database) enforces no foreign key unless each connection turns them on, and the portal does not. The
    source's bundles and nights go; the school runs that read a bundle keep their history without the link."""
    bundles = db.select(RosterBundle.id).where(RosterBundle.source_id == source_id)
    nights = db.select(SourceNight.id).where(SourceNight.source_id == source_id)
    db.session.execute(db.update(SyncRun).where(SyncRun.bundle_id.in_(bundles)).values(bundle_id=None))
    db.session.execute(db.delete(SourceNightRun).where(SourceNightRun.night_id.in_(nights)))
    db.session.execute(db.delete(SourceNight).where(SourceNight.source_id == source_id))
    db.session.execute(db.delete(RosterBundle).where(RosterBundle.source_id == source_id))
