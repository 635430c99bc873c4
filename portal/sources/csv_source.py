"""A district source on the OneRoster CSV method: save it (no API fields), take in the bundles uploaded on its page,
list them. What a bundle does once received is jobs.source_bundles'."""
from datetime import datetime, timezone

from flask import current_app
from redis.exceptions import RedisError

from connectors.errors import InvalidSettings
from jobs.bundle_files import CSV_METHOD
from jobs.source_bundles import CHECK_JOB, CSV_SOURCE, check_source_bundle, store_source_bundle
from jobs.tenants import CLEARED
from store.db import db
from store.models import District, DistrictAuditEvent, Person, RosterBundle, Source
from store.vocabulary import clock_text

from ..rostering import service as rostering
from ..rostering.csv_method import BUNDLES_LISTED, RECEIPT_CHOICES, save_upload
from .service import audit_saved, clean_name, mapped_connections

FORM_METHOD = "oneroster_csv"  # the Method menu's value (the school form's), saved as Source.method "csv"


def is_csv(source: Source | None) -> bool:
    return source is not None and source.method == CSV_SOURCE


def receipt_sentence(source: Source) -> str:
    """What happens to a bundle that arrives, in the manager's words."""
    if source.csv_sync_on_receipt == "now":
        return "A valid bundle that arrives is synced at once for every mapped school it lists."
    if source.automatic:
        return f"A valid bundle that arrives waits for the nightly sync at {clock_text(source.sync_time)}."
    return ("A valid bundle that arrives waits for the nightly sync, but the nightly sync is off: turn it on above, "
            "or upload with the source set to sync at once.")


def save_csv_source(district: District, actor: Person | None, *, source: Source | None = None, name: str = "",
                    automatic: bool = False, sync_time: str = "02:00", receipt: str = "now") -> Source:
    """Validate and save a CSV source (new when `source` is None); an API source switched to CSV drops its SIS
    URLs and secret, and its mapped schools sync from the bundles it receives."""
    errors = {}
    try:
        name = clean_name(district, name, f"{district.name} — OneRoster CSV", source)
    except InvalidSettings as exc:
        errors.update(exc.errors)
    sync_time = (sync_time or "").strip()
    if not rostering.SYNC_TIME_RE.match(sync_time):
        errors["sync_time"] = "Give the time as HH:MM on a 24-hour clock, e.g. 02:00."
    if receipt not in dict(RECEIPT_CHOICES):
        errors["csv_sync_on_receipt"] = "Choose whether a received bundle is synced at once or at the nightly time."
    if errors:
        raise InvalidSettings(errors)
    added = source is None
    if source is None:
        source = Source(district_id=district.id, vendor="oneroster")
        db.session.add(source)
    was_csv = is_csv(source)
    source.name, source.method, source.sync_time, source.automatic = name, CSV_SOURCE, sync_time, bool(automatic)
    source.csv_sync_on_receipt = receipt
    for column, value in CLEARED.items():  # no API fields on a CSV source
        setattr(source, column, value)
    db.session.flush()
    received = "synced at once" if receipt == "now" else "synced at the nightly time"
    detail = f"District source {name} saved: OneRoster CSV (SFTP or upload); a received bundle is {received}."
    now = datetime.now(timezone.utc)
    for conn in mapped_connections(source):
        if not was_csv:
            conn.method, conn.settings_changed_at = CSV_METHOD, now
    audit_saved(district, source, actor, detail, added=added)
    return source


def receive_source_upload(source: Source, files: list, actor: Person | None) -> RosterBundle:
    """Save the uploaded zip (or CSV files) as the source's received bundle and queue its check; a valid one then
    syncs as the source says (at once, or at the nightly time)."""
    target, shown = save_upload(files)
    bundle = store_source_bundle(source.id, target, via="upload", filename=shown)
    DistrictAuditEvent.record(source.district, actor, "bundle_uploaded",
                              f"{source.name}: CSV bundle {bundle.id} uploaded: {shown}, {bundle.size:,} bytes.")
    db.session.commit()
    try:
        current_app.check_queue.enqueue(CHECK_JOB, bundle.id, job_id=f"source-bundle-check-{bundle.id}",
                                        job_timeout=3600, result_ttl=0, failure_ttl=86400)
    except RedisError:  # the queue is down: check it in this request (slower) rather than leave it unchecked
        check_source_bundle(bundle.id)
    return bundle


def source_bundles(source: Source, limit: int = BUNDLES_LISTED) -> list[RosterBundle]:
    return list(db.session.scalars(db.select(RosterBundle).where(RosterBundle.source_id == source.id).order_by(
        RosterBundle.received_at.desc(), RosterBundle.id.desc()).limit(limit)))
