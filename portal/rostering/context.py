"""What the Rostering templates need, built in one place for full pages and partials alike."""
from datetime import datetime

from flask_login import current_user

from connectors.profiles import get_profile
from jobs.connection import get_connection, saved_values
from jobs.credentials import credentials_warning
from jobs.schedule import blackout_on
from jobs.thresholds import SUGGESTED_PERCENT, archive_hold, back_to_school_reason
from store.db import db
from store.models import SyncRun
from store.vocabulary import CHANGE_TOGGLES, WHO_TOGGLES

from ..status.overview import scheduler_notice
from . import csv_method, service
from .blackouts import list_blackouts
from .changes import grouped_changes, skip_summary
from .chart_data import chart_context
from .forms import METHODS, settings_from_connection, sync_time_choices, vendor_choices
from .sftp_view import sftp_view
from .source_health import last_night, last_source_bundle, source_bundle_summary

HISTORY_PAGE_SIZE = 10


def local_today(school):
    """Today's date in the district's time zone."""
    return datetime.now(school.district.zone).date()


def connection_context(school, conn, *, vendor=None, values=None, errors=None, warning="", notice="",
                       secret_typed=False, secret_kept=False) -> dict:
    """The connection form: chosen vendor, its fields, typed or saved values, per-field errors, and a warning to
    confirm (Save anyway) or a notice once saved. `secret_kept`: the browser keeps the typed secret (htmx)."""
    vendor = vendor or (conn.vendor if conn else "aeries")
    if values is None:
        values = saved_values(conn) if conn and conn.vendor == vendor else {}
    return {
        "school": school, "methods": METHODS, "vendors": vendor_choices(), "vendor": vendor,
        "fields": get_profile(vendor).form_fields, "vendor_help": get_profile(vendor).help_text, "values": values,
        "errors": errors or {},
        "secret_saved": bool(conn and conn.has_secret and conn.vendor == vendor),
        "save_warning": warning, "connection_notice": notice, "secret_typed": secret_typed, "secret_kept": secret_kept,
        "credentials_warning": credentials_warning(conn),
    }


def rule_rows(conn, rules: dict | None = None) -> list[dict]:
    """One row per role for the settings form's per-role rules: saved, or as ticked in a rejected form."""
    update_excluded = rules["update_excluded"] if rules else (conn.update_excluded_roles if conn else set())
    archive_excluded = rules["archive_excluded"] if rules else (conn.archive_excluded_roles if conn else set())
    return [{"role": role, "label": label, "auto_update": role not in update_excluded,
             "archive": role not in archive_excluded} for role, label in service.RULE_ROLES.items()]


def settings_context(school, conn, *, values=None, errors=None, notice="", pauses=None, rules=None) -> dict:
    """The sync settings form, shown once a connection is saved (`pauses`: the school's, if already loaded;
    `values`/`rules`: what a rejected form had ticked)."""
    pauses = list_blackouts(school) if pauses is None else pauses
    season = back_to_school_reason(local_today(school), [pause.ends_on for pause in pauses])
    settings = values if values is not None else (settings_from_connection(conn) if conn else {})
    return {
        "rule_rows": rule_rows(conn, rules), "sync_times": sync_time_choices(settings.get("sync_time", "")),
        "role_rules": service.role_rule_summary(conn), "season_reason": season, "suggested_percent": SUGGESTED_PERCENT,
        "school": school, "conn": conn, "who_toggles": WHO_TOGGLES, "change_toggles": CHANGE_TOGGLES,
        "settings": settings,
        "settings_errors": errors or {}, "settings_notice": notice, "zone": school.district.timezone,
        "can_opt_in": current_user.role == "owner", "report_opt_in": current_user.sync_report_opt_in,
        "scheduler_notice": scheduler_notice(school.district.zone) if settings.get("automatic") and not (
            conn is not None and conn.source is not None and not conn.source.automatic) else "",
    }


def latest_run(school) -> SyncRun | None:
    return db.session.scalar(db.select(SyncRun).where(SyncRun.school_id == school.id)
                             .order_by(SyncRun.created_at.desc(), SyncRun.id.desc()).limit(1))


def history_context(school, page: int = 1) -> dict:
    query = (db.select(SyncRun).where(SyncRun.school_id == school.id)
             .order_by(SyncRun.created_at.desc(), SyncRun.id.desc()))
    return {"school": school, "runs": db.paginate(query, page=page, per_page=HISTORY_PAGE_SIZE, error_out=False)}


def page_context(school, **parts) -> dict:
    """Everything index.html needs; `parts` override one section (typed values, errors, results)."""
    conn = get_connection(school)
    context = {"conn": conn, "source_night": last_night(conn), "source_bundle": (bundle := last_source_bundle(conn)),
               "source_bundle_summary": source_bundle_summary(bundle), "checks": None, "connection_test": None, "test_refusal": "", "run_notice": "", "override_value": "", "override_error": ""}
    pauses = pause_context(school)
    context.update(connection_context(school, conn, **parts.pop("connection", {})))
    context.update(settings_context(school, conn, pauses=pauses["pauses"], **parts.pop("settings", {})))
    context.update(history_context(school))
    context.update(chart_context(school))
    context.update(run_context(latest_run(school)))
    context.update(pauses)
    context.update(csv_context(school, conn, parts.pop("csv_form", None), parts.pop("csv_errors", None)))
    if "sftp" not in parts and context["method"] == "oneroster_csv":  # the drop is part of the CSV method
        context["sftp"] = sftp_view(school)
    context.update(parts)
    return context


BUNDLE_VIA = {"upload": "uploaded", "sftp": "SFTP", "cli": "command line"}
BUNDLE_STATUS_LABELS = {"received": "Checking", "valid": "Valid", "invalid": "Has errors", "refused": "Refused",
                        "synced": "Synced"}


def csv_context(school, conn, csv_form=None, csv_errors=None) -> dict:
    """The CSV method's form and bundles; `method` is the one the connection card shows."""
    bundles = csv_method.bundles_of(school) if conn is not None and conn.method == "oneroster_csv" else []
    latest = bundles[0] if bundles else None
    report, total = csv_method.report_rows(latest) if latest else ([], 0)
    return {"method": "oneroster_csv" if csv_form is not None or (conn and conn.method == "oneroster_csv")
            else "oneroster", "csv_form": csv_form, "csv_errors": csv_errors or {}, "bundles": bundles,
            "bundle": latest, "report": report, "report_total": total, "upload_error": "",
            "receipt_choices": csv_method.RECEIPT_CHOICES, "receipt_sentence": csv_method.receipt_sentence(conn),
            "max_upload_mb": csv_method.MAX_UPLOAD_MB}


def file_size(size: int) -> str:
    """A file's size as people read it: "850 KB", "12.4 MB"."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024)):,} KB"
    return f"{size / (1024 * 1024):,.1f} MB"


def bundle_labels() -> dict:
    """Labels every bundle partial needs (registered as template globals)."""
    return {"bundle_via": BUNDLE_VIA, "bundle_status_labels": BUNDLE_STATUS_LABELS,
            "receipt_choices": csv_method.RECEIPT_CHOICES}


def pause_context(school) -> dict:
    """Seasonal pauses, and the one covering today's local date (manual runs are warned about it)."""
    today = local_today(school)
    return {"pauses": list_blackouts(school), "paused_today": blackout_on(school.id, today),
            "pause_errors": {}, "pause_values": {}}


def run_context(run) -> dict:
    """The progress/outcome partial of a run: archive list for review, planned changes for previews."""
    context = {"run": run, "review": None, "preview": {}, "hold": None, "skip_reasons": []}
    if run is None or not run.is_final:
        return context
    if run.status == "needs_review":
        context["review"] = grouped_changes(run, actions=("archive",))["archive"]
        conn = get_connection(run.school)
        uncounted = [label for role, label in service.RULE_ROLES.items()
                     if role in (run.archive_uncounted_roles or "").split(",")]  # as they were when it was held
        context["hold"] = archive_hold(run, conn.archive_threshold_percent if conn else None, uncounted)
    elif run.trigger == "preview" and run.status == "succeeded":
        context["preview"] = grouped_changes(run)
        context["skip_reasons"] = skip_summary(run) if run.skipped else []
    return context
