"""The OneRoster CSV method on the Rostering page: its settings, and bundles uploaded through the page."""
import csv
import io
import os
import secrets
import shutil
from datetime import datetime, timezone
from pathlib import Path

from flask import current_app
from redis.exceptions import RedisError
from werkzeug.utils import secure_filename

from connectors.errors import InvalidSettings
from jobs.bundle_files import CSV_METHOD
from jobs.bundles import CHECK_JOB, check_bundle, store_bundle
from jobs.connection import get_connection
from store.db import db
from store.models import AuditEvent, Person, RosterBundle, RosterConnection, School

RECEIPT_CHOICES = (("now", "Sync it at once"), ("nightly", "Wait for the nightly sync"))
MAX_UPLOAD_MB = 500
BUNDLES_LISTED = 10
REPORT_ROWS_SHOWN = 50
MAX_SCHOOL_ID = 200
EMPTY = ("is empty (0 bytes): the export or the download did not finish. Export the bundle from the SIS again and "
         "upload what it wrote.")
_CONTROL = dict.fromkeys([*range(32), 127], " ")  # a name is shown and stored: no NUL, line breaks or tabs


class UploadRefused(Exception):
    """The upload cannot become a bundle (nothing chosen, a wrong kind of file); the message is for the user."""


def csv_values(form) -> dict[str, str]:
    return {"sis_school_id": form.get("sis_school_id", "").strip()[:1000],
            "csv_sync_on_receipt": form.get("csv_sync_on_receipt", "now")[:20]}


def save_csv_connection(school: School, values: dict, actor: Person | None) -> RosterConnection:
    """Switch the school to the CSV method (an API secret saved before is kept for a switch back); a school mapped to
    a district source keeps its source's method (its District Manager unmaps it first), as save_connection says."""
    mapped = get_connection(school)
    if mapped is not None and mapped.source is not None:
        raise InvalidSettings({"method": mapped_school_refusal(school, mapped.source)})
    errors = {}
    school_id = values.get("sis_school_id", "")
    if len(school_id) > MAX_SCHOOL_ID or not school_id.isprintable():  # control or invisible format characters
        errors["sis_school_id"] = (f"Give the school's sourcedId as it appears in orgs.csv (at most {MAX_SCHOOL_ID} "
                                   "characters, one line, no invisible characters).")
    receipt = values.get("csv_sync_on_receipt", "")
    if receipt not in dict(RECEIPT_CHOICES):
        errors["csv_sync_on_receipt"] = "Choose whether a received bundle is synced at once or at the nightly time."
    if errors:
        raise InvalidSettings(errors)
    conn = get_connection(school)
    if conn is None:
        conn = RosterConnection(school_id=school.id, vendor="oneroster")
        db.session.add(conn)
    if conn.method != CSV_METHOD or conn.sis_school_id != school_id:
        conn.settings_changed_at = datetime.now(timezone.utc)
    conn.method, conn.sis_school_id, conn.csv_sync_on_receipt = CSV_METHOD, school_id, receipt
    AuditEvent.record(school, actor, "settings_changed",
                      f"Method: OneRoster CSV, school {school_id or '(the only school in orgs.csv)'}; a received "
                      f"bundle is {'synced at once' if receipt == 'now' else 'synced at the nightly time'}.")
    db.session.commit()
    return conn


def mapped_school_refusal(school: School, source) -> str:
    return (f"{school.name} syncs through the district's source \"{source.name}\", so its method is the source's. Ask "
            "your District Manager to unmap the school first if it should connect on its own.")


def _incoming() -> Path:
    folder = Path(current_app.config["BUNDLE_DIR"]) / "incoming"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def receive_upload(school: School, files: list, actor: Person | None) -> RosterBundle:
    """Save the uploaded zip (or CSV files) as a received bundle and queue its validation."""
    target, shown = save_upload(files)
    bundle = store_bundle(school.id, target, via="upload", filename=shown)
    AuditEvent.record(school, actor, "bundle_uploaded", f"CSV bundle {bundle.id} uploaded: {shown}, "
                                                        f"{bundle.size:,} bytes.")
    db.session.commit()
    try:
        current_app.check_queue.enqueue(CHECK_JOB, bundle.id, False, job_id=f"bundle-check-{bundle.id}",
                                        job_timeout=3600, result_ttl=0, failure_ttl=86400)
    except RedisError:  # the queue is down: check it in this request (slower) rather than leave it unchecked
        check_bundle(bundle.id, False)
    return bundle


def save_upload(files: list) -> tuple[Path, str]:
    """The uploaded zip (or CSV files) saved under incoming/ (a school's or a district source's), and how the
    list names it; UploadRefused says what to send instead."""
    files = [f for f in files if f and f.filename]
    if not files:
        raise UploadRefused("Choose the zip the SIS exported, or its CSV files (manifest.csv, orgs.csv, users.csv).")
    names = [f.filename.translate(_CONTROL).replace("\\", "/").rsplit("/", 1)[-1].strip() or "upload"
             for f in files]
    zips = [n for n in names if n.lower().endswith(".zip")]
    if zips and len(files) > 1:
        raise UploadRefused("Send one zip, or the CSV files without a zip, not both.")
    if not zips and not all(n.lower().endswith(".csv") for n in names):
        odd = next(n for n in names if not n.lower().endswith(".csv"))
        raise UploadRefused(f"{odd[:100]} is neither a .zip nor a .csv file. Upload the zip the SIS exported, or "
                            "its CSV files.")
    token = secrets.token_hex(8)
    if zips:
        target = _incoming() / f"{token}.zip"
        files[0].save(target)
        shown = names[0]
        if target.stat().st_size == 0:
            target.unlink()
            raise UploadRefused(f"{names[0][:100]} {EMPTY}")
    else:
        target = _incoming() / token
        target.mkdir(mode=0o700)
        try:
            _save_csv_files(target, files, names)
        except UploadRefused:
            shutil.rmtree(target, ignore_errors=True)
            raise
        if not any(entry.stat().st_size for entry in target.iterdir()):
            shutil.rmtree(target, ignore_errors=True)
            raise UploadRefused(f"{', '.join(sorted(names))[:200]} {'are' if len(names) > 1 else 'is'} {EMPTY[3:]}")
        shown = f"{len(files)} CSV files ({', '.join(sorted(names))[:200]})"
    return target, shown


def _save_csv_files(folder: Path, files: list, names: list[str]) -> None:
    seen = set()
    for upload, name in zip(files, names):
        safe = secure_filename(name)
        if not safe.lower().endswith(".csv") or safe.lower() in seen:
            raise UploadRefused(f"{name[:100]} was sent twice or has a name that cannot be kept; send each CSV file "
                                "once, with its OneRoster name (users.csv, orgs.csv, …).")
        seen.add(safe.lower())
        upload.save(os.fspath(folder / safe))


def bundles_of(school: School, limit: int = BUNDLES_LISTED) -> list[RosterBundle]:
    return list(db.session.scalars(db.select(RosterBundle).where(RosterBundle.school_id == school.id).order_by(
        RosterBundle.received_at.desc(), RosterBundle.id.desc()).limit(limit)))


def report_rows(bundle: RosterBundle, limit: int = REPORT_ROWS_SHOWN) -> tuple[list[dict], int]:
    """The validation report's problems as dicts (first `limit`), and how many there are in all."""
    rows = list(csv.DictReader(io.StringIO(bundle.report_csv or "")))
    return rows[:limit], len(rows)


def receipt_sentence(conn: RosterConnection | None) -> str:
    """What happens to a bundle that arrives, in the owner's words (the nightly choice depends on the switch)."""
    if conn is None or conn.csv_sync_on_receipt == "now":
        return "A valid bundle that arrives over SFTP is synced at once."
    if conn.automatic:
        return f"A valid bundle that arrives over SFTP waits for the nightly sync at {conn.sync_time}."
    return ("A valid bundle that arrives over SFTP waits for the nightly sync, but Automatic Rostering is off: "
            "turn it on below, or press Sync now.")
