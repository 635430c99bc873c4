"""Receiving a OneRoster CSV bundle (SFTP, upload, CLI): keep it, validate it, sync it now or at the nightly time.

    bundle = accept_bundle(school_id, "/tmp/upload.zip", via="sftp", filename="export.zip")

The file is moved into bundle storage (BUNDLE_DIR/<school_id>/), validated to the last row, and the problems are
recorded on the RosterBundle row (a bundle with errors changes nothing). A valid bundle is then synced at once or
left for the nightly run, as the connection's `csv_sync_on_receipt` says (or `sync=True/False`). Retention keeps the
last 10 bundles of a school for 30 days; `prune_bundles` (run by the dispatcher's tick) deletes the rest.
"""
import logging
from datetime import datetime, timedelta, timezone

from connectors.csvbundle import BundleInvalid, BundleRefused, Report, open_bundle
from connectors.csvbundle.reader import NOT_A_SCHOOL_FIX
from store.db import db
from store.models import RosterBundle, School, SyncRun

from .bundle_files import CSV_METHOD, bundle_limits, keep_school_records, remove_file, school_for, store_file
from .bundle_report import send_bundle_report, valid_summary
from .connection import NotConfigured, get_connection
from .runs import ACTIVE, SyncAlreadyRunning, start_sync

log = logging.getLogger(__name__)
VIA = ("upload", "sftp", "cli")
KEEP_BUNDLES = 10
KEEP_FOR = timedelta(days=30)
CHECK_JOB = "jobs.bundles.check_bundle"  # enqueued by name by the upload page
NOT_CHECKED = ("The portal could not check this bundle (an internal error, logged for the administrator); nothing "
               "was changed. Send it again; if it keeps happening, tell the portal's administrator.")


def store_bundle(school_id: int, path, *, via: str, filename: str) -> RosterBundle:
    """Move the file into bundle storage and record it as received (not yet validated)."""
    if via not in VIA:
        raise ValueError(f"via must be one of {VIA}")
    stored, size = store_file(school_id, path, filename)
    bundle = RosterBundle(school_id=school_id, via=via, filename=(filename or "bundle")[:255], stored_path=stored,
                          size=size, status="received", summary="Received; checking the files.")
    db.session.add(bundle)
    db.session.commit()
    return bundle


def validate_stored(bundle: RosterBundle) -> None:
    """Validate the stored file and record the outcome on the row (committed); reading never changes people.

    For a school on the CSV method whose school orgs.csv lists, validating reads the school's records and keeps
    them beside the bundle (bundle_files.keep_school_records), so its runs do not read the CSV files again."""
    conn = get_connection(bundle.school_id)
    sis_school_id = conn.sis_school_id if conn else ""

    def read() -> Report:
        try:
            return _read_and_check(bundle, conn, sis_school_id, keep=conn is not None and conn.method == CSV_METHOD)
        except OSError:  # the records could not be kept (disk full?): validate alone; runs read the bundle itself
            log.warning("keeping the records of CSV bundle %s failed", bundle.id, exc_info=True)
            return _read_and_check(bundle, conn, sis_school_id, keep=False)
    record_check(bundle, read)


def record_check(bundle: RosterBundle, read) -> None:
    """Run `read()` (the bundle's Report) and record the outcome on the row, committed: refused (a hostile or
    damaged file), invalid (errors to fix) or valid; a school's bundle and a district source's alike."""
    report = Report()
    try:
        report = read()
    except BundleRefused as exc:
        report.error("", 0, "", str(exc), "Nothing was changed.")
        bundle.status = "refused"
    else:
        bundle.status = "valid" if report.applicable else "invalid"
    bundle.error_count, bundle.warning_count = report.error_count, sum(
        n for kind, n in report.counts.items() if kind.startswith("warning:"))
    bundle.report_csv = report.to_csv()
    bundle.summary = _summary(bundle, report)
    db.session.commit()


def _read_and_check(bundle: RosterBundle, conn, sis_school_id: str, *, keep: bool) -> Report:
    """The bundle's report; with `keep`, the school's records are kept beside it as validation reads them."""
    with open_bundle(bundle.stored_path, bundle_limits()) as csv_bundle:
        report = csv_bundle.report
        if keep and report.applicable and _school_listed(csv_bundle, sis_school_id):
            try:
                keep_school_records(csv_bundle, bundle.stored_path, sis_school_id, conn.enabled_roles,
                                    parents=conn.sync_parents)
            except BundleInvalid:
                pass  # the errors are in the report
        else:
            csv_bundle.validate()
            if report.applicable:
                _check_school(csv_bundle, sis_school_id, report)
        bundle.version, bundle.users_mode = csv_bundle.version or "", csv_bundle.users_mode or ""
    return report


def _school_listed(csv_bundle, sis_school_id: str) -> bool:
    return csv_bundle.lists_school(school_for(csv_bundle, sis_school_id))


def _check_school(csv_bundle, sis_school_id: str, report: Report) -> None:
    """The school this connection syncs must be one of orgs.csv's schools."""
    if wrong := csv_bundle.not_a_school(sis_school_id):
        report.error("orgs.csv", 0, "type", wrong, NOT_A_SCHOOL_FIX)
        return
    if _school_listed(csv_bundle, sis_school_id):
        return
    school_id = school_for(csv_bundle, sis_school_id)
    listed = ", ".join(f"{s.source_id} ({s.name})" for s in csv_bundle.schools()[:10]) or "none"
    if csv_bundle.orgs_delta and not school_id:
        report.error("orgs.csv", 0, "sourcedId", "orgs.csv is a delta file that does not settle which school this is "
                     f"(its changed schools: {listed}), and this school's School ID is not set.", "Enter the school's "
                     "sourcedId as School ID on the Rostering page, then send the bundle again.")
    elif not csv_bundle.schools():
        report.error("orgs.csv", 0, "type", "orgs.csv lists no org of type school, so this school cannot be found "
                     "in it.", "Export the bundle with the school's own row in orgs.csv (type school), then send it "
                     "again.")
    elif not school_id:
        report.error("orgs.csv", 0, "sourcedId", f"orgs.csv lists several schools ({listed}) and this school's "
                     "School ID is not set.", "Enter the school's sourcedId as School ID on the Rostering page, "
                     "then send the bundle again.")
    else:
        report.error("orgs.csv", 0, "sourcedId", f"The School ID {sis_school_id} is not among orgs.csv's schools: "
                     f"{listed}.", "Correct the School ID on the Rostering page, or export the bundle that includes "
                     "this school, then send it again.")


def _summary(bundle: RosterBundle, report: Report) -> str:
    if bundle.status == "refused":
        return report.errors[0].problem if report.errors else "The bundle was refused."
    if bundle.status == "invalid":
        first = report.errors[0].text if report.errors else ""
        return (f"{bundle.error_count:,} error{'s' if bundle.error_count != 1 else ''} to fix before this bundle can "
                f"be synced; nothing was changed. First: {first}")
    return valid_summary(bundle)


def sync_wanted(school_id: int, sync: bool | None) -> bool:
    if sync is not None:
        return sync
    conn = get_connection(school_id)
    return conn is not None and conn.method == CSV_METHOD and conn.csv_sync_on_receipt == "now"


def sync_received(bundle: RosterBundle) -> SyncRun | None:
    """Start the sync of a freshly validated bundle; when one is already running, the bundle waits (said so)."""
    school = db.session.get(School, bundle.school_id)
    try:
        run = start_sync(school, trigger="received", bundle_id=bundle.id)
    except SyncAlreadyRunning:
        bundle.summary += " A sync of this school was already running, so this bundle waits for Sync now or the " \
                          "nightly sync."
    except NotConfigured as exc:
        bundle.summary += f" It was not synced: {exc}"
    else:
        bundle.summary += f" Sync started (run {run.id})."
        db.session.commit()
        return run
    db.session.commit()
    return None


def _sent_to_mapped_school(conn) -> Report:
    """A school that follows a district CSV source reads the source's bundles: one sent to the school itself (its
    SFTP account from before the mapping, the command line) would put another roster over the district's."""
    raise BundleRefused(f"This school follows the district source {conn.source.name}, so a bundle sent to the school "
                        "itself is not read. Have the SIS send it to the district source's SFTP account "
                        f"(district_source_{conn.source_id}) or ask a District Manager to upload it on the source's "
                        "page.")


def check_bundle(bundle_id: int, sync: bool | None = None) -> None:
    """RQ job (and the inline step of accept_bundle): validate a stored bundle, then sync it if wanted."""
    bundle = db.session.get(RosterBundle, bundle_id)
    if bundle is None or bundle.status != "received":
        return
    try:
        conn = get_connection(bundle.school_id)
        if conn is not None and conn.source_id is not None:
            record_check(bundle, lambda: _sent_to_mapped_school(conn))
        else:
            validate_stored(bundle)
    except Exception:  # noqa: BLE001 - a bundle left "received" is polled as "Checking the files…" for ever
        log.exception("CSV bundle %s could not be checked", bundle_id)
        db.session.rollback()
        bundle.status, bundle.summary = "refused", NOT_CHECKED
        db.session.commit()
    log.info("CSV bundle %s of school %s: %s", bundle.id, bundle.school_id, bundle.status)
    if bundle.status in ("invalid", "refused"):
        send_bundle_report(bundle.id)
    elif sync_wanted(bundle.school_id, sync):
        sync_received(bundle)


def accept_bundle(school_id: int, path, *, via: str, filename: str, sync: bool | None = None) -> RosterBundle:
    """Keep, validate and (if wanted) start syncing a received bundle; returns its row with the outcome.

    `sync`: None follows the connection's csv_sync_on_receipt ("now" starts a sync run on the queue; "nightly"
    leaves it for the nightly run); True/False decide for this bundle. Refused and invalid bundles change nothing.
    """
    bundle = store_bundle(school_id, path, via=via, filename=filename)
    check_bundle(bundle.id, sync)
    db.session.refresh(bundle)
    return bundle


def prune_bundles(now: datetime | None = None) -> int:
    """Delete the files of bundles older than 30 days or beyond a school's newest 10; returns how many.

    A bundle that a queued or running run is about to read is kept until that run ends.
    """
    now = now or datetime.now(timezone.utc)
    in_use = db.select(SyncRun.bundle_id).where(SyncRun.status.in_(ACTIVE), SyncRun.bundle_id.is_not(None))
    ranked = db.select(RosterBundle.id, RosterBundle.received_at, db.func.row_number().over(
        partition_by=(RosterBundle.school_id, RosterBundle.source_id),
        order_by=(RosterBundle.received_at.desc(), RosterBundle.id.desc())
    ).label("rank")).where(RosterBundle.deleted_at.is_(None)).subquery()
    expired = db.session.scalars(db.select(RosterBundle).join(ranked, ranked.c.id == RosterBundle.id).where(
        db.or_(ranked.c.rank > KEEP_BUNDLES, ranked.c.received_at < now - KEEP_FOR),
        RosterBundle.id.not_in(in_use))).all()
    for bundle in expired:
        remove_file(bundle.stored_path)
        bundle.deleted_at = now
        bundle.summary = (bundle.summary + " The file was deleted after the retention period.").strip()
    db.session.commit()
    if expired:
        log.info("deleted %s CSV bundle file(s) past retention", len(expired))
    return len(expired)
