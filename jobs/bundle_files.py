"""Where received CSV bundles are kept, which one a run reads, and the bundle as a run's page source.

Below jobs.runs and jobs.sync (both import it); jobs.bundles (receipt, validation, retention) sits above them.
"""
import gc
import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app

from connectors.csvbundle import Limits, keep_columns, kept_pages, open_bundle
from store.db import db
from store.models import AuditEvent, RosterBundle

CSV_METHOD = "oneroster_csv"
API_METHOD = "oneroster"
NO_BUNDLE = ("No valid OneRoster CSV bundle has been received for this school yet. Upload one on the Rostering page "
             "or have the SIS push it to the SFTP drop; the page lists what was received and what to fix.")
OLDER_THAN_SOURCE = ("This school's newest bundle was received before the school followed a district source, so it is "
                     "an older roster than the one the district's syncs gave it, and it is not synced. Upload a new "
                     "bundle here (or have the SIS send one to the school's SFTP drop), then sync.")
READING = "reading the CSV bundle"
PAGE_SIZE = 5000  # records per page of a bundle run: the progress and the lock's lease are renewed per page
# records per chunk that receipt keeps (read back as PAGE_SIZE pages): a chunk is packed while its values are still in
# the CPU's cache; 1,000,000 users (csv_bench.py's bundle, alternately, same minutes): ~1 s less CPU than 5000
KEPT_CHUNK = 1000


def bundle_limits() -> Limits:
    return Limits()


def bundle_dir(school_id: int) -> Path:
    """instance/bundles/<school_id>/ (BUNDLE_DIR); made on first use, readable by the portal's user only."""
    folder = Path(current_app.config["BUNDLE_DIR"]) / str(int(school_id))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def source_bundle_dir(source_id: int) -> Path:
    """instance/bundles/sources/<source_id>/: a district CSV source's bundles (read for each mapped school)."""
    folder = Path(current_app.config["BUNDLE_DIR"]) / "sources" / str(int(source_id))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def store_file(school_id: int | None, path, filename: str, *, source_id: int | None = None) -> tuple[str, int]:
    """Move a received zip (or folder of CSV files) into the school's (or source's) bundle folder; returns (stored
    path, size)."""
    source = Path(path)
    suffix = ".zip" if source.is_file() else ""
    folder = source_bundle_dir(source_id) if source_id is not None else bundle_dir(school_id)
    target = folder / f"{secrets.token_hex(8)}{suffix}"
    shutil.move(os.fspath(source), os.fspath(target))
    return os.fspath(target), _size(target)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(entry.stat(follow_symlinks=False).st_size for entry in os.scandir(path)
               if entry.is_file(follow_symlinks=False))


def remove_file(stored_path: str) -> None:
    """Delete a stored bundle (a zip, or a folder of CSV files) and the records kept beside it; gone is fine."""
    target = Path(stored_path)
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target, ignore_errors=True)
    else:
        target.unlink(missing_ok=True)
    Path(kept_path(stored_path)).unlink(missing_ok=True)
    for kept in target.parent.glob(f"{target.name}.*.records"):  # a source bundle's records, one file per school
        kept.unlink(missing_ok=True)


def kept_path(stored_path: str, sis_school_id: str | None = None) -> str:
    """Where the school's validated records are kept beside a stored bundle (as long as the bundle is); a source's
    bundle keeps one file per mapped school (`sis_school_id`, hashed: ids are the SIS's text, not file names)."""
    if sis_school_id is None:
        return os.fspath(stored_path) + ".records"
    digest = hashlib.sha256(sis_school_id.lower().encode()).hexdigest()[:16]
    return f"{os.fspath(stored_path)}.{digest}.records"


def _kept_for(sis_school_id: str, roles, parents: bool) -> dict:
    """What kept records were read for: a run with other settings reads the bundle itself instead."""
    return {"sis_school_id": sis_school_id, "roles": sorted(wanted_roles(roles, parents))}


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection during receipt's pass: it builds a record per user and makes no cycles (reference
    counting frees each page), and PersonRecords, a tuple subclass, stay tracked, so the collector walked each one
    again and again: about a quarter of the pass's CPU at 1,000,000 users (benchmarks/csv_bench.py)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def keep_school_records(csv_bundle, stored_path: str, sis_school_id: str, roles, *, parents: bool) -> None:
    """Validate users.csv by reading the school's records once, and keep them beside the bundle for its runs.

    One pass instead of two: receipt must read every row to validate it, and so builds the records a run needs as
    it goes; the run then loads them without parsing or checking the CSV again. The report fills as validate()
    fills it. Raises BundleInvalid when the bundle has errors (nothing is kept then)."""
    path = kept_path(stored_path)
    part = path + ".part"
    try:
        with open(part, "wb") as out, paused_gc():
            pages = csv_bundle.iter_roster(school_for(csv_bundle, sis_school_id), wanted_roles(roles, parents),
                                           page_size=KEPT_CHUNK, parents_first=False, columns=True)
            keep_columns(pages, out, _kept_for(sis_school_id, roles, parents))  # kept parents-first
        os.replace(part, path)
    finally:
        Path(part).unlink(missing_ok=True)


def latest_usable_bundle(school_id: int, source_id: int | None = None) -> RosterBundle | None:
    """The newest bundle a run may read: validated without errors and still kept (a mapped school's: its source's)."""
    owner = RosterBundle.source_id == source_id if source_id is not None else RosterBundle.school_id == school_id
    return db.session.scalar(db.select(RosterBundle).where(
        owner, RosterBundle.status.in_(("valid", "synced")),
        RosterBundle.deleted_at.is_(None)).order_by(RosterBundle.received_at.desc(), RosterBundle.id.desc()).limit(1))


def bundle_serves(bundle: RosterBundle, school_id: int, source_id: int | None) -> bool:
    """A school's run reads its own bundles, or (mapped to a CSV source) its source's only: a bundle the school
    received before it was mapped is an older roster than the district's."""
    if source_id is not None:
        return bundle.source_id == source_id
    return bundle.source_id is None and bundle.school_id == school_id and not followed_source_since(bundle)


def followed_source_since(bundle: RosterBundle) -> bool:
    """The school was mapped to a district source after its own bundle arrived: once unmapped, that bundle is an
    older roster than the district's syncs gave it (with Archive on it would archive whoever they added)."""
    return db.session.scalar(db.select(db.exists().where(
        AuditEvent.school_id == bundle.school_id, AuditEvent.action == "source_mapped",  # portal.sources.service
        AuditEvent.created_at > bundle.received_at)))


def usable(bundle: RosterBundle | None) -> bool:
    return bundle is not None and bundle.status in ("valid", "synced") and bundle.deleted_at is None


def wanted_roles(roles, parents: bool) -> set[str]:
    """The roles the bundle reader is asked for: the enabled ones, and parents when their contact is synced."""
    return set(roles) | ({"parent"} if parents else set())


@contextmanager
def bundle_pages(stored_path: str, sis_school_id: str, roles, *, parents: bool) -> Iterator:
    """(phase, page) pairs from a stored bundle, read once for every role (parents first); like fetch_roster.

    The records kept at receipt when they were read for these settings (a source's bundle: this school's file);
    else the bundle's files themselves."""
    kept = None
    for path in (kept_path(stored_path, sis_school_id), kept_path(stored_path)):
        try:
            kept = open(path, "rb")
            break
        except FileNotFoundError:
            continue
    if kept is not None:
        with kept:
            pages = kept_pages(kept, _kept_for(sis_school_id, roles, parents), page_size=PAGE_SIZE,
                               columns=True)  # planned column by column (jobs.plan_columns)
            if pages is not None:
                yield ((READING, page) for page in pages)
                return
    with open_bundle(stored_path, bundle_limits()) as bundle:
        pages = bundle.iter_roster(school_for(bundle, sis_school_id), wanted_roles(roles, parents),
                                   page_size=PAGE_SIZE)
        yield ((READING, page) for page in pages)


def school_for(bundle, sis_school_id: str) -> str:
    """The connection's school id; when it is blank and orgs.csv lists one school, that school."""
    if sis_school_id:
        return sis_school_id
    schools = bundle.schools()
    return schools[0].source_id if len(schools) == 1 else ""
