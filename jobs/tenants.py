"""One rule for "the same SIS with the same credentials", and a school joining the source that reads it.

Two connections are one SIS tenant when they send the same Client ID to the same SIS address (the URL as the
vendor's form stores it, compared without case or trailing slashes). The vendor menu, token URL, scope, auth mode
and OneRoster version say how the portal asks, not which tenant it asks, so they are left out: however a school
was set up, the same address and Client ID are the same tenant. The secret then decides: the same secret is the
same credentials (a school may share the source); another secret with that Client ID is an old or mistyped one,
never shared on a guess. Schools of a district without a source on the tenant that save it with the same secret
get one made from their connections (own_twins, source_from), as the migration made them at upgrade.
Migration d8e1f4a7b2c6 keeps its own frozen, stricter key (it merged without asking).
"""
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography.fernet import InvalidToken

from connectors.profiles import PROFILES, ConnectionSettings
from store.db import db
from store.models import District, RosterConnection, School, Source
from store.secrets import decrypt_secret

from .bundle_files import API_METHOD, CSV_METHOD
from .connection import get_connection
from .source_bundles import CSV_SOURCE

# A mapped school's own credential columns: cleared, since the secret lives once, on the source.
CLEARED = {"url": "", "token_url": "", "client_id": "", "secret_encrypted": None, "app_name": "", "scope": ""}


@dataclass(frozen=True)
class TenantMatch:
    """A district source on the same tenant; `same_secret` when the typed secret is the source's too."""
    source: Source
    same_secret: bool


def tenant_of(url: str, client_id: str) -> tuple[str, str]:
    """The tenant's identity from a stored URL column and Client ID."""
    return (url or "").strip().rstrip("/").lower(), (client_id or "").strip()


def settings_tenant(settings: ConnectionSettings) -> tuple[str, str]:
    """The tenant of validated settings, by the URL the vendor's profile would store (as a source stores it)."""
    return tenant_of(PROFILES[settings.vendor].saved_fields(settings)["url"], settings.client_id)


def _same_secret(secret_encrypted: bytes | None, secret: str) -> bool:
    """Constant-time comparison with a saved secret; one today's keys cannot read matches nothing."""
    try:
        saved = decrypt_secret(secret_encrypted) if secret_encrypted else ""
    except InvalidToken:
        return False
    return bool(saved) and hmac.compare_digest(saved.encode("utf-8"), (secret or "").encode("utf-8"))


def tenant_source(district_id: int, settings: ConnectionSettings, *, exclude: Source | None = None
                  ) -> TenantMatch | None:
    """The district's API source on the tenant of `settings` (one with the same secret first), or None.

    Only the district's own sources: the same address and Client ID in another district is never joined or named."""
    wanted = settings_tenant(settings)
    sources = db.session.scalars(db.select(Source).where(
        Source.district_id == district_id, Source.method != CSV_SOURCE,
        Source.id != (exclude.id if exclude is not None else -1)).order_by(Source.id))
    matches = [TenantMatch(source, _same_secret(source.secret_encrypted, settings.client_secret))
               for source in sources if tenant_of(source.url, source.client_id) == wanted]
    return next((m for m in matches if m.same_secret), matches[0] if matches else None)


def mapped_elsewhere(source: Source, school: School, sis_school_id: str) -> School | None:
    """The other portal school the source already syncs as this SIS school (ids compared without case), or None.

    Locks the source's row until the caller commits (PostgreSQL; SQLite has one writer at a time anyway): two
    saves mapping one SIS school at once would each find it free and both map it, so the second waits and then
    sees the first's mapping."""
    db.session.execute(db.select(Source.id).where(Source.id == source.id).with_for_update())
    return db.session.scalar(db.select(School).join(RosterConnection, RosterConnection.school_id == School.id).where(
        RosterConnection.source_id == source.id,
        db.func.lower(RosterConnection.sis_school_id) == sis_school_id.strip().lower(), School.id != school.id))


def attach(school: School, source: Source, sis_school_id: str, *, automatic: bool
           ) -> tuple[RosterConnection, bool]:
    """Point the school's connection at the source as that SIS school (its sync settings kept; `automatic` only
    for a school with no connection yet); returns it and whether the school's own saved credentials went."""
    conn = get_connection(school)
    had_own = conn is not None and conn.source_id is None and bool(conn.secret_encrypted)
    if conn is None:
        conn = RosterConnection(school_id=school.id, vendor=source.vendor, automatic=automatic)
        db.session.add(conn)
    conn.source_id, conn.source, conn.sis_school_id = source.id, source, sis_school_id.strip()
    for column, value in CLEARED.items():
        setattr(conn, column, value)
    conn.vendor, conn.settings_changed_at = source.vendor, datetime.now(timezone.utc)  # the next sync is full
    conn.method = CSV_METHOD if source.method == CSV_SOURCE else API_METHOD  # the school syncs as its source reads
    return conn, had_own


def own_twins(school: School, settings: ConnectionSettings) -> list[RosterConnection]:
    """Other schools of the district still reading the tenant of `settings` on their own saved connection with the
    same secret, oldest first: what d8e1f4a7b2c6 would have put in one source with it. Another secret never is.

    Their rows stay locked until the caller commits, so a third school saving at once waits and then sees the
    source instead of pairing with connections already gone to it."""
    wanted = settings_tenant(settings)
    rows = db.session.scalars(db.select(RosterConnection).join(School, School.id == RosterConnection.school_id).where(
        School.district_id == school.district_id, RosterConnection.school_id != school.id,
        RosterConnection.source_id.is_(None), RosterConnection.method == API_METHOD,
        RosterConnection.secret_encrypted.is_not(None), RosterConnection.url != "")
        .order_by(RosterConnection.id).with_for_update(of=RosterConnection))
    return [row for row in rows if tenant_of(row.url, row.client_id) == wanted
            and _same_secret(row.secret_encrypted, settings.client_secret)]


SOURCE_COLUMNS = ("vendor", "url", "token_url", "auth_mode", "client_id", "secret_encrypted", "app_name", "scope",
                  "oneroster_version")


def source_from(district: District, members: list[RosterConnection]) -> Source:
    """A new district source for connections of one tenant and secret, chosen as d8e1f4a7b2c6 chose: the oldest
    connection's SIS and credentials (a school already syncing keeps how it asks), automatic when any school is,
    nightly at the earliest automatic school's time (of all when none is), expiring on the earliest date given."""
    members = sorted(members, key=lambda conn: conn.id)
    first, automatic = members[0], [conn for conn in members if conn.automatic]
    source = Source(district_id=district.id, method=API_METHOD, name=free_source_name(district, first),
                    automatic=bool(automatic),
                    sync_time=min(conn.sync_time or "02:00" for conn in (automatic or members)),
                    credentials_expire_on=min((c.credentials_expire_on for c in members if c.credentials_expire_on),
                                              default=None),
                    **{column: getattr(first, column) for column in SOURCE_COLUMNS})
    db.session.add(source)
    db.session.flush()
    return source


def free_source_name(district: District, conn: RosterConnection) -> str:
    """"District — Vendor", then with the SIS host, then numbered (as d8e1f4a7b2c6 named them), unused in the
    district."""
    taken = set(db.session.scalars(db.select(Source.name).where(Source.district_id == district.id)))
    label = PROFILES[conn.vendor].label if conn.vendor in PROFILES else conn.vendor
    base = f"{district.name} — {label}"[:170]
    host = (conn.url or "").split("://", 1)[-1].split("/", 1)[0] or conn.url
    return next(name for name in (base, f"{base} ({host})"[:190], *(f"{base} {n}" for n in range(2, len(taken) + 3)))
                if name not in taken)
