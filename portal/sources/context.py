"""What the Sources templates need, built in one place for full pages and partials alike."""
from flask import current_app, url_for
from redis.exceptions import RedisError

from connectors.profiles import get_profile
from jobs.source_bundles import CSV_SOURCE, bundle_schools
from jobs.source_checks import listed_schools
from store.db import db
from store.models import MappedCredentials, RosterConnection, School, Source

from ..rostering.forms import METHODS, sync_time_choices, vendor_choices
from . import service
from .matching import Candidate, suggest


def saved_source_values(source: Source | None) -> dict[str, str]:
    """The source's form values as saved; never the secret."""
    if source is None:
        return {}
    values = get_profile(source.vendor).from_saved(MappedCredentials(source, ""), "")
    values.pop("school_id", None)
    return values


def form_context(district, source=None, *, vendor=None, values=None, errors=None, extra=None, method=None) -> dict:
    """The source form: name, method, chosen vendor, its fields (no School ID), nightly time, per-field errors; a
    CSV source (method "oneroster_csv") has no vendor fields but when a received bundle syncs."""
    vendor = vendor or (source.vendor if source else "aeries")
    if values is None:
        values = saved_source_values(source) if source and source.vendor == vendor else {}
    extra = extra or {}
    sync_time = extra.get("sync_time", source.sync_time if source else "02:00")
    return {
        "district": district, "source": source, "methods": METHODS, "vendors": vendor_choices(), "vendor": vendor,
        "fields": service.source_fields(vendor), "vendor_help": get_profile(vendor).help_text, "values": values,
        "errors": errors or {}, "secret_saved": bool(source and source.has_secret and source.vendor == vendor),
        "vendor_fields_url": url_for("sources.vendor_fields", district_id=district.id,
                                     source=source.id if source else None),
        "source_name": extra.get("name", source.name if source else ""),
        "source_sync_time": sync_time, "sync_times": sync_time_choices(sync_time),  # the school's quarter hours
        "source_automatic": extra.get("automatic", source.automatic if source else False),
        "method_chosen": method or ("oneroster_csv" if source and source.method == CSV_SOURCE else "oneroster"),
        "source_receipt": extra.get("receipt", source.csv_sync_on_receipt if source else "now"),
        "method_form_url": url_for("sources.method_form", district_id=district.id,
                                   source=source.id if source else None),
    }


def _sis_schools(source: Source) -> list[dict] | None:
    if source.method == CSV_SOURCE:
        return bundle_schools(source)  # a CSV source's "test": orgs.csv of its newest valid bundle
    try:
        return listed_schools(current_app.redis, source)
    except RedisError:
        return None  # the page still shows and changes the mappings; the SIS list needs a test again


def mapping_context(district, source, *, sis_schools=None, errors=None, notice="") -> dict:
    """The SIS's schools (from the last test) beside the portal's, with suggestions; the mapped schools."""
    sis = sis_schools if sis_schools is not None else _sis_schools(source)
    schools = list(db.session.scalars(db.select(School).where(School.district_id == district.id).order_by(School.name)))
    conns = {conn.school_id: conn for conn in db.session.scalars(
        db.select(RosterConnection).where(RosterConnection.school_id.in_([s.id for s in schools])))}
    mapped = [(school, conns[school.id]) for school in schools
              if school.id in conns and conns[school.id].source_id == source.id]
    by_sis_id = {conn.sis_school_id.lower(): school for school, conn in mapped}
    free = [school for school in schools if school.id not in conns or conns[school.id].source_id is None]
    candidates = [Candidate(s.id, s.name, s.slug, conns[s.id].sis_school_id if s.id in conns else "") for s in free]
    open_sis = [row for row in (sis or []) if row["source_id"].lower() not in by_sis_id]
    suggestions = suggest(open_sis, candidates)
    named = {s.id: s for s in free}
    rows = [{"sis": row, "school": by_sis_id.get(row["source_id"].lower()),
             "suggested": named.get(suggestions[row["source_id"]].school_id) if row["source_id"] in suggestions else None,
             "reason": suggestions[row["source_id"]].reason if row["source_id"] in suggestions else ""}
            for row in (sis or [])]
    listed = {row["source_id"].lower() for row in (sis or [])}
    return {"district": district, "source": source, "sis_rows": rows, "sis_listed": sis is not None,
            "unlisted": [(school, conn) for school, conn in mapped if conn.sis_school_id.lower() not in listed],
            "free_schools": free, "mapping_errors": errors or {}, "mapping_notice": notice,
            "mapped_count": len(mapped)}
