"""What the Rostering page and CLI call: save and test the connection, its sync settings and role rules."""
import dataclasses
import re
from datetime import datetime, timezone

from cryptography.fernet import InvalidToken

from connectors.checklist import CheckRow, run_connection_test
from connectors.errors import InvalidSettings
from connectors.netguard import OutboundPolicy
from connectors.profiles import PROFILES, ConnectionSettings, get_profile
from connectors.secret_reuse import credential_origins, reuse_refusal
from jobs.check_records import audit_detail
from jobs.connection import get_connection
from jobs.outbound import outbound_policy
from jobs.tenants import own_twins, tenant_source
from jobs.thresholds import THRESHOLD_MESSAGE, parse_percent
from store.db import db
from store.models import AuditEvent, Person, RosterConnection, School
from store.secrets import decrypt_secret, encrypt_secret
from store.vocabulary import ROLE_PLURALS, ROLE_TOGGLES, SYNC_TOGGLES, settings_in_words

from .share import join_source, pair_up, pairable

SYNC_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# Roles an owner can leave out of Auto update or Archive (owners and district managers are never synced).
RULE_ROLES = {toggle.role: ROLE_PLURALS[toggle.role] for toggle in ROLE_TOGGLES}
_ROLE_NAMES = [toggle.label for toggle in ROLE_TOGGLES]
NOBODY = (f"Tick at least one of {', '.join(_ROLE_NAMES[:-1])} or {_ROLE_NAMES[-1]}: with none ticked a sync "
          "would sync nobody.")
ADDITIONS_ONLY_CLASH = ("Additions only changes and archives nobody, so it cannot be on together with {names}. "
                        "Turn Additions only off, or turn {names} off.")


def validate_connection(school: School, vendor: str, values: dict, *, existing: RosterConnection | None = None,
                        policy: OutboundPolicy | None = None) -> ConnectionSettings:
    """Settings from form values; a blank secret means the stored one. Raises InvalidSettings."""
    if vendor not in PROFILES:
        *others, last = (profile.label for profile in PROFILES.values())
        raise InvalidSettings({"vendor": f"Choose {', '.join(others)} or {last}."})
    values = {k: ("" if v is None else str(v)) for k, v in values.items()}
    loopback = (policy or outbound_policy()).allow_loopback
    profile = get_profile(vendor)
    if values.get("client_secret", "").strip() or existing is None or not existing.has_secret:
        return profile.normalise(values, allow_loopback_http=loopback)
    # A blank secret asks to reuse the stored one: only for the vendor, origins and Client ID it was saved for.
    typed = profile.normalise({**values, "client_secret": _PLACEHOLDER}, allow_loopback_http=loopback)
    refusal = reuse_refusal(_saved_settings(existing), typed)
    if refusal:
        raise InvalidSettings({"client_secret": refusal})
    try:
        return dataclasses.replace(typed, client_secret=decrypt_secret(existing.credentials.secret_encrypted))
    except InvalidToken:
        raise InvalidSettings({"client_secret": "The saved secret can no longer be read (the portal's encryption "
                               "keys changed). Enter the client secret again."}) from None


_PLACEHOLDER = "saved-secret-placeholder"  # stands in for the stored secret until the reuse rule allows it


def _saved_settings(conn) -> ConnectionSettings | None:
    """The stored connection (or source) as settings (secret left out), or None when it no longer validates."""
    row = conn.credentials
    try:
        profile = get_profile(row.vendor)
        return profile.normalise(profile.from_saved(row, _PLACEHOLDER), allow_loopback_http=True)
    except (InvalidSettings, KeyError):
        return None


def credential_hosts(settings: ConnectionSettings) -> str:
    """The origins the credentials go to, for the audit log (never the secret)."""
    return ", ".join(sorted(credential_origins(settings)))


def save_connection(school: School, vendor: str, values: dict, actor: Person | None) -> RosterConnection:
    """Validate, encrypt the secret and save; marks the settings changed so the next sync is full. Settings on the
    SIS and credentials of one of the district's sources map the school to it instead (conn.source is then set), and
    so do those of other schools' own connections, through a source made of them."""
    conn = get_connection(school)
    if conn is not None and conn.source is not None:
        raise InvalidSettings({"vendor": f"{school.name} is connected through the district's source "
                                         f"\"{conn.source.name}\". Ask your District Manager to change it there, "
                                         "or to unmap the school first if it should connect on its own."})
    settings = validate_connection(school, vendor, values, existing=conn)
    match = tenant_source(school.district_id, settings)
    if match is not None:  # one source per tenant: the SIS is read once a night for all its schools
        return join_source(school, match, settings, actor)
    twins = pairable(school, own_twins(school, settings), settings, actor)  # other schools reading it on their own
    if conn is None:
        conn = RosterConnection(school_id=school.id)
        db.session.add(conn)
    conn.method, conn.vendor = "oneroster", vendor
    for column, value in PROFILES[vendor].saved_fields(settings).items():
        setattr(conn, column, value)
    conn.secret_encrypted = encrypt_secret(settings.client_secret)
    conn.settings_changed_at = datetime.now(timezone.utc)
    if twins:
        db.session.flush()  # the source is made from the saved row, as the migration made sources from saved rows
        return pair_up(school, conn, twins, actor)
    AuditEvent.record(school, actor, "settings_changed",
                      f"Connection saved: {PROFILES[vendor].label}, {settings.base_url}, "
                      f"client id {settings.client_id}, "
                      f"school {settings.school_id}; credentials go to {credential_hosts(settings)}.")
    db.session.commit()
    return conn


def save_sync_settings(conn: RosterConnection, *, automatic: bool, sync_time: str, archive_threshold_percent,
                       actor: Person | None = None, **toggles: bool) -> RosterConnection:
    """Validate and save the toggles (SYNC_TOGGLES by column; one left out is off); a change to what is
    synced forces the next sync to be full."""
    unknown = set(toggles) - {t.column for t in SYNC_TOGGLES}
    if unknown:
        raise TypeError(f"save_sync_settings() got unknown toggles {sorted(unknown)}")
    errors = {}
    # a mapped school syncs at its source's nightly time: a time typed for the school would be saved and ignored
    sync_time = conn.sync_time if conn.source_id is not None else (sync_time or "").strip()
    if not SYNC_TIME_RE.match(sync_time):
        errors["sync_time"] = "Give the time as HH:MM on a 24-hour clock, e.g. 02:00."
    try:
        percent = parse_percent(archive_threshold_percent, "archive_threshold_percent", THRESHOLD_MESSAGE)
    except InvalidSettings as exc:
        errors.update(exc.errors)
    else:
        if percent is None:
            errors["archive_threshold_percent"] = THRESHOLD_MESSAGE
    new = {t.column: bool(toggles.get(t.column, False)) for t in SYNC_TOGGLES}
    errors.update(contradictions(new))
    if errors:
        raise InvalidSettings(errors)
    if any(getattr(conn, name) != value for name, value in new.items()):
        conn.settings_changed_at = datetime.now(timezone.utc)
    for name, value in new.items():
        setattr(conn, name, value)
    conn.automatic, conn.sync_time, conn.archive_threshold_percent = bool(automatic), sync_time, percent
    AuditEvent.record(conn.school, actor, "settings_changed", settings_in_words(conn))
    db.session.commit()
    return conn


def contradictions(toggles: dict[str, bool]) -> dict[str, str]:
    """Settings that cannot go together: no role to sync, or Additions only with Auto update or Archive."""
    errors = {}
    if not any(toggles.get(t.column) for t in ROLE_TOGGLES):
        errors["roles"] = NOBODY
    if toggles.get("additions_only"):
        clash = [label for column, label in (("auto_update", "Auto update"), ("archive", "Archive"))
                 if toggles.get(column)]
        if clash:
            errors["additions_only"] = ADDITIONS_ONLY_CLASH.format(names=" and ".join(clash))
    return errors


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
    AuditEvent.record(conn.school, actor, "settings_changed",
                      f"Sync rules for {RULE_ROLES[role]}: "
                      f"Auto update {'changes' if auto_update else 'never changes'} them, "
                      f"Archive {'removes' if archive else 'never removes'} them.")
    db.session.commit()
    return conn


def save_all_role_rules(conn: RosterConnection, *, update_excluded: set[str], archive_excluded: set[str],
                        actor: Person | None = None) -> RosterConnection:
    """The sync settings form's per-role rules at once: roles Auto update or Archive leave alone."""
    new_update = ",".join(r for r in RULE_ROLES if r in update_excluded)
    new_archive = ",".join(r for r in RULE_ROLES if r in archive_excluded)
    if (new_update, new_archive) == (conn.no_update_roles or "", conn.no_archive_roles or ""):
        return conn
    conn.settings_changed_at = datetime.now(timezone.utc)
    conn.no_update_roles, conn.no_archive_roles = new_update, new_archive
    said = [sentence for _, sentence in role_rule_summary(conn)]
    AuditEvent.record(conn.school, actor, "settings_changed",
                      "Sync rules: " + ("; ".join(said) if said else "Auto update and Archive apply to every role") + ".")
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


def settings_to_test(school: School, vendor: str, values: dict, policy: OutboundPolicy | None = None
                     ) -> ConnectionSettings:
    """The settings a connection test runs on: the form's values, a blank secret filled in by the reuse rule."""
    return validate_connection(school, vendor, values, existing=get_connection(school), policy=policy)


def test_connection(school: School, vendor: str, values: dict, actor: Person | None) -> list[CheckRow]:
    """Run the checklist inline (the CLI; the page queues it, see connection_tests); InvalidSettings for bad fields."""
    policy = outbound_policy()  # one policy: the same rule checks the typed URL and every request
    settings = settings_to_test(school, vendor, values, policy)
    rows = run_connection_test(settings, policy=policy)
    AuditEvent.record(school, actor, "connection_tested", audit_detail(credential_hosts(settings), rows))
    db.session.commit()
    return rows
