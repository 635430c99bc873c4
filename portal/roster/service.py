"""What the Rostering page and CLI call: save and test the connection, start, approve or discard syncs."""
import dataclasses
import re
from datetime import datetime, timezone

from cryptography.fernet import InvalidToken
from flask import current_app
from sqlalchemy.exc import IntegrityError

from connectors.connection_test import CheckRow, run_connection_test
from connectors.errors import InvalidSettings
from connectors.profiles import PROFILES, ConnectionSettings, get_profile
from connectors.secret_reuse import credential_origins, reuse_refusal
from jobs.locks import lock_holder
from jobs.runs import active_run, mark_stale_runs_failed
from portal.extensions import db
from portal.models import AuditEvent, Person, RosterConnection, School, SyncRun
from portal.outbound import outbound_policy_for

from .secrets import decrypt_secret, encrypt_secret

SYNC_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
TRIGGERS = ("manual", "preview", "nightly", "cli")
JOB_TIMEOUT_MARGIN = 3600  # beyond SYNC_MAX_MINUTES: the sync stops itself, readably, well before RQ kills it
START_GUARD_SECONDS = 10
SYNC_FLAGS = ("sync_students", "sync_teachers", "sync_staff", "sync_admins", "sync_parents", "auto_update",
              "archive", "additions_only")
# Roles an owner can leave out of Auto update or Archive (owners and district managers are never synced).
RULE_ROLES = {"student": "Students", "teacher": "Teachers", "staff": "Staff", "school_admin": "School admins"}
PERCENT_MESSAGE = "Give a percentage from 0 to 100, e.g. 25, or leave it empty to use the saved threshold."
THRESHOLD_MESSAGE = "Give a percentage from 0 to 100, e.g. 10."
PERCENT_MAX_CHARS = 20  # "12.3456789" needs 10; anything longer is a paste, not a percentage


class SyncAlreadyRunning(Exception):
    """A run of this school is queued or running; `run` is that run."""

    def __init__(self, run: SyncRun | None):
        self.run = run
        super().__init__("A sync of this school is already queued or running; wait for it to finish.")


class NotConfigured(Exception):
    """The school has no saved connection (or no secret) to sync with."""


def get_connection(school: School) -> RosterConnection | None:
    return db.session.scalar(db.select(RosterConnection).filter_by(school_id=school.id))


def form_values(conn: RosterConnection | None) -> dict[str, str]:
    """The profile's field values for re-rendering the form; the secret is never included."""
    if conn is None:
        return {}
    values = {"url": conn.url, "client_id": conn.client_id, "client_secret": "", "school_id": conn.sis_school_id}
    if conn.vendor == "infinite-campus":
        values["app_name"] = conn.app_name
    if conn.vendor == "oneroster":
        values.update(token_url=conn.token_url, auth_mode=conn.auth_mode, scope=conn.scope)
    return values


def _allow_loopback() -> bool:
    return current_app.config.get("PORTAL_ENV") != "production"


def validate_connection(school: School, vendor: str, values: dict, *, existing: RosterConnection | None = None
                        ) -> ConnectionSettings:
    """Settings from form values; a blank secret means the stored one. Raises InvalidSettings."""
    if vendor not in PROFILES:
        raise InvalidSettings({"vendor": "Choose Aeries, Infinite Campus or Other OneRoster 1.1 provider."})
    values = {k: ("" if v is None else str(v)) for k, v in values.items()}
    profile = get_profile(vendor)
    if values.get("client_secret", "").strip() or existing is None or not existing.has_secret:
        return profile.normalise(values, allow_loopback_http=_allow_loopback())
    # A blank secret asks to reuse the stored one: only for the vendor, origins and Client ID it was saved for.
    typed = profile.normalise({**values, "client_secret": _PLACEHOLDER}, allow_loopback_http=_allow_loopback())
    refusal = reuse_refusal(_saved_settings(existing), typed)
    if refusal:
        raise InvalidSettings({"client_secret": refusal})
    try:
        return dataclasses.replace(typed, client_secret=decrypt_secret(existing.secret_encrypted))
    except InvalidToken:
        raise InvalidSettings({"client_secret": "The saved secret can no longer be read (the portal's encryption "
                               "keys changed). Enter the client secret again."}) from None


_PLACEHOLDER = "saved-secret-placeholder"  # stands in for the stored secret until the reuse rule allows it


def _saved_settings(conn: RosterConnection) -> ConnectionSettings | None:
    """The stored connection as settings (secret left out), or None when it no longer validates."""
    try:
        return get_profile(conn.vendor).normalise({**form_values(conn), "client_secret": _PLACEHOLDER},
                                                  allow_loopback_http=True)
    except (InvalidSettings, KeyError):
        return None


def credential_hosts(settings: ConnectionSettings) -> str:
    """The origins the credentials go to, for the audit log (never the secret)."""
    return ", ".join(sorted(credential_origins(settings)))


def settings_for(conn: RosterConnection) -> ConnectionSettings:
    """The saved connection's settings with the secret decrypted (for the sync job only)."""
    values = form_values(conn)
    values["client_secret"] = decrypt_secret(conn.secret_encrypted)
    return get_profile(conn.vendor).normalise(values, allow_loopback_http=_allow_loopback())


def _audit(school: School, actor: Person | None, action: str, detail: str) -> None:
    db.session.add(AuditEvent(school_id=school.id, actor_id=actor.id if actor else None, action=action,
                              detail=detail))


def save_connection(school: School, vendor: str, values: dict, actor: Person | None) -> RosterConnection:
    """Validate, encrypt the secret and save; marks the settings changed so the next sync is full."""
    conn = get_connection(school)
    settings = validate_connection(school, vendor, values, existing=conn)
    if conn is None:
        conn = RosterConnection(school_id=school.id)
        db.session.add(conn)
    conn.method, conn.vendor = "oneroster", vendor
    conn.url = settings.base_url + ("/" if vendor == "aeries" else "")
    conn.token_url = settings.token_urls[0] if vendor == "oneroster" and settings.token_urls else ""
    conn.auth_mode, conn.client_id = settings.auth_mode, settings.client_id
    conn.sis_school_id, conn.app_name = settings.school_id, settings.app_name
    conn.scope = settings.scope if settings.scope != PROFILES[vendor].default_scope else ""
    conn.secret_encrypted = encrypt_secret(settings.client_secret)
    conn.settings_changed_at = datetime.now(timezone.utc)
    _audit(school, actor, "settings_changed",
           f"Connection saved: {PROFILES[vendor].label}, {settings.base_url}, client id {settings.client_id}, "
           f"school {settings.school_id}; credentials go to {credential_hosts(settings)}.")
    db.session.commit()
    return conn


def save_sync_settings(conn: RosterConnection, *, sync_students: bool, sync_teachers: bool, sync_staff: bool,
                       sync_admins: bool, sync_parents: bool, auto_update: bool, archive: bool, automatic: bool,
                       sync_time: str, archive_threshold_percent: float, additions_only: bool = False,
                       actor: Person | None = None) -> RosterConnection:
    """Validate and save the toggles; a change to what is synced forces the next sync to be full."""
    errors = {}
    sync_time = (sync_time or "").strip()
    if not SYNC_TIME_RE.match(sync_time):
        errors["sync_time"] = "Give the time as HH:MM on a 24-hour clock, e.g. 02:00."
    try:
        percent = parse_percent(archive_threshold_percent, "archive_threshold_percent", THRESHOLD_MESSAGE)
    except InvalidSettings as exc:
        errors.update(exc.errors)
    else:
        if percent is None:
            errors["archive_threshold_percent"] = THRESHOLD_MESSAGE
    if errors:
        raise InvalidSettings(errors)
    new = dict(sync_students=sync_students, sync_teachers=sync_teachers, sync_staff=sync_staff,
               sync_admins=sync_admins, sync_parents=sync_parents, auto_update=auto_update, archive=archive,
               additions_only=additions_only)
    if any(getattr(conn, name) != bool(value) for name, value in new.items()):
        conn.settings_changed_at = datetime.now(timezone.utc)
    for name, value in new.items():
        setattr(conn, name, bool(value))
    conn.automatic, conn.sync_time, conn.archive_threshold_percent = bool(automatic), sync_time, percent
    shown = ", ".join(f"{name}={'on' if getattr(conn, name) else 'off'}" for name in SYNC_FLAGS)
    _audit(conn.school, actor, "settings_changed", f"Sync settings: {shown}, automatic="
           f"{'on' if automatic else 'off'} at {sync_time}, archive guard {percent:g}%.")
    db.session.commit()
    return conn


def role_rules(conn: RosterConnection | None, role: str) -> dict[str, bool]:
    """Whether Auto update and Archive apply to this role (True unless the owner left the role out)."""
    if conn is None:
        return {"auto_update": True, "archive": True}
    return {"auto_update": role not in conn.update_excluded_roles, "archive": role not in conn.archive_excluded_roles}


def save_role_rules(conn: RosterConnection, role: str, *, auto_update: bool, archive: bool,
                    actor: Person | None = None) -> RosterConnection:
    """Let Auto update and Archive change a role, or leave it alone; a change makes the next sync full."""
    if role not in RULE_ROLES:
        raise InvalidSettings({"role": f"Sync rules exist for {', '.join(RULE_ROLES.values())} only; "
                                       "pick one of those roles in the Role filter."})
    new_update = _with_role(conn.update_excluded_roles, role, excluded=not auto_update)
    new_archive = _with_role(conn.archive_excluded_roles, role, excluded=not archive)
    if (new_update, new_archive) != (conn.no_update_roles or "", conn.no_archive_roles or ""):
        conn.settings_changed_at = datetime.now(timezone.utc)
    conn.no_update_roles, conn.no_archive_roles = new_update, new_archive
    _audit(conn.school, actor, "settings_changed",
           f"Sync rules for {RULE_ROLES[role]}: Auto update {'changes' if auto_update else 'never changes'} them, "
           f"Archive {'removes' if archive else 'never removes'} them.")
    db.session.commit()
    return conn


def _with_role(roles: frozenset[str], role: str, *, excluded: bool) -> str:
    """The comma-separated column value, in a stable order."""
    chosen = (roles | {role}) if excluded else (roles - {role})
    return ",".join(r for r in RULE_ROLES if r in chosen)


def role_rule_summary(conn: RosterConnection | None) -> list[tuple[str, str]]:
    """(role, plain sentence) for each role that Auto update or Archive leave alone."""
    if conn is None:
        return []
    lines = []
    for role, label in RULE_ROLES.items():
        skipped = [verb for verb, roles in (("auto-updated", conn.update_excluded_roles),
                                            ("archived", conn.archive_excluded_roles)) if role in roles]
        if skipped:
            lines.append((role, f"{label} are never {' or '.join(skipped)} by sync"))
    return lines


def parse_percent(value, field: str, message: str) -> float | None:
    """A percentage typed in a form or CLI: None when empty; InvalidSettings({field: message}) unless 0-100."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and (len(value.strip()) > PERCENT_MAX_CHARS or "_" in value):
        # float() would read "2_5" as 25; a long value would have been cut short, not read
        raise InvalidSettings({field: message})
    try:
        percent = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float's range
        raise InvalidSettings({field: message}) from None
    if not 0 <= percent <= 100:  # NaN fails this too
        raise InvalidSettings({field: message})
    return percent + 0.0  # -0.0 becomes 0.0, so nothing says "up to -0%"


def parse_threshold_override(value) -> float | None:
    """A one-run archive threshold (Sync now, --allow-archive): None when empty, which keeps the saved one."""
    return parse_percent(value, "threshold_override", PERCENT_MESSAGE)


def test_connection(school: School, vendor: str, values: dict, actor: Person | None) -> list[CheckRow]:
    """Run the checklist on (possibly unsaved) values; raises InvalidSettings for bad fields."""
    settings = validate_connection(school, vendor, values, existing=get_connection(school))
    rows = run_connection_test(settings, policy=outbound_policy_for(current_app.config))
    passed = sum(r.status == "ok" for r in rows)
    _audit(school, actor, "connection_tested", f"Connection test of {credential_hosts(settings)}: "
                                               f"{passed} of {len(rows)} checks passed.")
    db.session.commit()
    return rows


def _enqueue(run: SyncRun, suffix: str = "") -> SyncRun:
    from jobs.sync import run_sync
    run.job_id = f"sync-school-{run.school_id}-run-{run.id}{suffix}"
    db.session.commit()  # the job id is on the row before a fast worker can look for it
    current_app.sync_queue.enqueue(run_sync, run.id, job_id=run.job_id, job_timeout=int(current_app.config["SYNC_MAX_MINUTES"] * 60) + JOB_TIMEOUT_MARGIN,
                                   result_ttl=86400, failure_ttl=7 * 86400)
    return run


def create_run(school: School, *, trigger: str, actor: Person | None = None, local_date: str | None = None,
               threshold_override=None) -> SyncRun:
    """A queued run, refused with SyncAlreadyRunning while another run of the school is active.

    `threshold_override` (percent, or empty) replaces the saved archive threshold for this run only.
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {TRIGGERS}")
    conn = get_connection(school)
    if conn is None or not conn.has_secret:
        raise NotConfigured("This school has no saved SIS connection; save one on the Rostering page first.")
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
                      archive_threshold_override=override)
        db.session.add(run)
        try:
            db.session.commit()
        except IntegrityError:  # a nightly run for that local date already exists
            db.session.rollback()
            raise SyncAlreadyRunning(db.session.scalar(db.select(SyncRun).filter_by(
                school_id=school.id, local_date=local_date))) from None
        if trigger in ("manual", "preview"):
            once = "" if override is None else (f" For this run only, archiving up to {override:g}% of rostered "
                                                f"people is allowed (saved threshold {conn.archive_threshold_percent:g}%).")
            _audit(school, actor, "sync_previewed" if trigger == "preview" else "sync_started", f"Run {run.id}.{once}")
            db.session.commit()
        return run
    finally:
        current_app.redis.delete(guard)


def start_sync(school: School, *, trigger: str = "manual", actor: Person | None = None,
               local_date: str | None = None, threshold_override=None) -> SyncRun:
    """Create the run and queue `jobs.sync.run_sync(run_id)`; a bad threshold_override raises InvalidSettings."""
    return _enqueue(create_run(school, trigger=trigger, actor=actor, local_date=local_date,
                               threshold_override=threshold_override))


def approve_run(run: SyncRun, actor: Person | None) -> SyncRun:
    """An owner accepts a run stopped by the archive guard: it is re-queued and archives as planned."""
    if run.status != "needs_review":
        raise ValueError("Only a sync waiting for review can be approved.")
    mark_stale_runs_failed(run.school_id)
    if active_run(run.school_id) is not None:
        raise SyncAlreadyRunning(active_run(run.school_id))
    run.status, run.phase, run.percent, run.error_message = "queued", "queued", 0, ""
    run.archive_override, run.approved_by_id = True, actor.id if actor else None
    run.approved_at, run.finished_at = datetime.now(timezone.utc), None
    run.report_status, run.report_error = "", ""  # the approved outcome gets its own report
    _audit(run.school, actor, "sync_approved", f"Run {run.id}: approved archiving {run.would_archive} of "
                                              f"{run.rostered_total} rostered people.")
    return _enqueue(run, "-approved")


def discard_run(run: SyncRun, actor: Person | None) -> SyncRun:
    """An owner rejects a run stopped by the archive guard; nothing it planned is applied."""
    if run.status != "needs_review":
        raise ValueError("Only a sync waiting for review can be discarded.")
    name = actor.full_name if actor else "an operator"
    run.status, run.phase = "skipped", "skipped"
    run.error_message = f"Discarded by {name} after review. Nothing was changed."
    _audit(run.school, actor, "sync_discarded", f"Run {run.id} discarded.")
    db.session.commit()
    return run
