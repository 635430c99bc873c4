"""District sources: a SIS tenant (vendor, URLs, credentials, nightly time) that belongs to a district, and
roster_connection.source_id mapping a school to it. Existing connections move into sources, with data.

Grouping: connections of one district share a source when method, vendor, URL, token URL, auth mode, Client
ID, App Name, scope and the secret are the same. The secret is compared decrypted, with the app's Fernet keys
(store.secrets): a Fernet token carries a random IV and a timestamp, so two encryptions of one secret never
have the same ciphertext and comparing ciphertexts would group nothing. The plaintext stays in memory as a
SHA-256 digest for the comparison only. A secret that today's keys cannot read gets a source of its own
(never a wrong merge). A source's nightly time is the earliest of its automatic schools (of all its schools
when none is automatic) and it is automatic when any of its schools is. The schools keep their own sync
settings; their credential columns are cleared (the secret then lives once, on the source) and downgrade
copies them back.

Revision ID: d8e1f4a7b2c6
Revises: c7f3a9e2b4d1
"""
import hashlib
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "d8e1f4a7b2c6"
down_revision = "c7f3a9e2b4d1"
branch_labels = None
depends_on = None

CREDENTIALS = ("url", "token_url", "auth_mode", "client_id", "secret_encrypted", "app_name", "scope")
CLEARED = {"url": "", "token_url": "", "client_id": "", "secret_encrypted": None, "app_name": "", "scope": ""}
# Frozen here (a migration must not change when the app's profiles do); unknown vendors show their key.
VENDOR_LABELS = {"aeries": "Aeries", "infinite-campus": "Infinite Campus", "powerschool": "PowerSchool SIS",
                 "skyward": "Skyward", "synergy": "Synergy (Edupoint)", "classlink": "ClassLink Roster Server",
                 "oneroster": "OneRoster"}


def upgrade():
    op.create_table(
        "source",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("district_id", sa.Integer, sa.ForeignKey("district.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("method", sa.String(32), nullable=False, server_default="oneroster"),
        sa.Column("vendor", sa.String(32), nullable=False, server_default="aeries"),
        sa.Column("url", sa.String(2000), nullable=False, server_default=""),
        sa.Column("token_url", sa.String(2000), nullable=False, server_default=""),
        sa.Column("auth_mode", sa.String(16), nullable=False, server_default="oauth2"),
        sa.Column("client_id", sa.String(500), nullable=False, server_default=""),
        sa.Column("secret_encrypted", sa.LargeBinary),
        sa.Column("app_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("scope", sa.String(1000), nullable=False, server_default=""),
        sa.Column("oneroster_version", sa.String(8), nullable=False, server_default="1.1"),
        sa.Column("credentials_expire_on", sa.Date),
        sa.Column("automatic", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("sync_time", sa.String(5), nullable=False, server_default="02:00"),
        sa.Column("last_tested_at", sa.DateTime(timezone=True)),
        sa.Column("last_test_result", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("district_id", "name", name="uq_source_district_name"),
    )
    op.create_index("ix_source_district_id", "source", ["district_id"])
    with op.batch_alter_table("roster_connection") as batch:
        batch.add_column(sa.Column("source_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_roster_connection_source_id", "source", ["source_id"], ["id"])
        batch.create_index("ix_roster_connection_source_id", ["source_id"])
    move_connections_into_sources(op.get_bind())


def _secret_digest(token) -> str | None:
    """SHA-256 of the decrypted secret, or None when the app's keys cannot read it (or no app is running)."""
    try:
        from cryptography.fernet import InvalidToken

        from store.secrets import decrypt_secret
        return hashlib.sha256(decrypt_secret(bytes(token)).encode("utf-8")).hexdigest()
    except (InvalidToken, RuntimeError, ValueError, TypeError):
        return None


def _optional_columns(bind) -> list[str]:
    """Columns a sibling migration may have added to roster_connection first (copied to the source if so)."""
    present = {c["name"] for c in sa.inspect(bind).get_columns("roster_connection")}
    return [name for name in ("oneroster_version", "credentials_expire_on") if name in present]


def _tables(bind):
    optional = _optional_columns(bind)
    extra = {"oneroster_version": sa.String(8), "credentials_expire_on": sa.Date}
    conn = sa.table("roster_connection", sa.column("id", sa.Integer), sa.column("school_id", sa.Integer),
                    sa.column("source_id", sa.Integer), sa.column("method", sa.String), sa.column("vendor", sa.String),
                    sa.column("automatic", sa.Boolean), sa.column("sync_time", sa.String),
                    *(sa.column(name, sa.LargeBinary if name == "secret_encrypted" else sa.String)
                      for name in CREDENTIALS), *(sa.column(name, extra[name]) for name in optional))
    school = sa.table("school", sa.column("id", sa.Integer), sa.column("district_id", sa.Integer))
    district = sa.table("district", sa.column("id", sa.Integer), sa.column("name", sa.String))
    source = sa.table("source", *(sa.column(c.name, c.type) for c in _source_columns()))
    return conn, school, district, source, optional


def _source_columns():
    return [sa.Column("id", sa.Integer), sa.Column("district_id", sa.Integer), sa.Column("name", sa.String),
            sa.Column("method", sa.String), sa.Column("vendor", sa.String), sa.Column("url", sa.String),
            sa.Column("token_url", sa.String), sa.Column("auth_mode", sa.String), sa.Column("client_id", sa.String),
            sa.Column("secret_encrypted", sa.LargeBinary), sa.Column("app_name", sa.String),
            sa.Column("scope", sa.String), sa.Column("oneroster_version", sa.String),
            sa.Column("credentials_expire_on", sa.Date), sa.Column("automatic", sa.Boolean),
            sa.Column("sync_time", sa.String)]


def _group_key(row, district_id: int, optional: list[str]) -> tuple:
    digest = _secret_digest(row.secret_encrypted)
    secret = ("plain", digest) if digest else ("unreadable", row.id)  # unreadable: alone, never merged
    version = (row.oneroster_version or "1.1") if "oneroster_version" in optional else "1.1"
    return (district_id, row.method, row.vendor, (row.url or "").rstrip("/"), (row.token_url or "").rstrip("/"),
            row.auth_mode, row.client_id, row.app_name or "", row.scope or "", version, secret)


def _host(url: str) -> str:
    rest = (url or "").split("://", 1)[-1]
    return rest.split("/", 1)[0] or url


def move_connections_into_sources(bind) -> dict[int, list[int]]:
    """Group every saved connection (URL and secret present) into sources; returns {source id: [school ids]}."""
    conn, school, district, source, optional = _tables(bind)
    rows = bind.execute(
        sa.select(conn, school.c.district_id, district.c.name.label("district_name"))
        .join(school, school.c.id == conn.c.school_id).join(district, district.c.id == school.c.district_id)
        .where(conn.c.secret_encrypted.is_not(None), conn.c.url != "").order_by(conn.c.id)).all()
    groups: dict[tuple, list] = defaultdict(list)
    for row in rows:
        groups[_group_key(row, row.district_id, optional)].append(row)
    taken: set[tuple[int, str]] = set()
    made: dict[int, list[int]] = {}
    for members in groups.values():
        first = members[0]
        automatic = [m for m in members if m.automatic]
        values = {name: getattr(first, name) for name in CREDENTIALS}
        values.update(
            district_id=first.district_id, method=first.method, vendor=first.vendor,
            name=_unique_name(first, taken), automatic=bool(automatic),
            sync_time=min(m.sync_time or "02:00" for m in (automatic or members)),
            oneroster_version=(first.oneroster_version or "1.1") if "oneroster_version" in optional else "1.1",
            credentials_expire_on=min((m.credentials_expire_on for m in members if m.credentials_expire_on),
                                      default=None) if "credentials_expire_on" in optional else None)
        source_id = bind.execute(source.insert().values(**values).returning(source.c.id)).scalar_one()
        ids = [m.id for m in members]
        bind.execute(conn.update().where(conn.c.id.in_(ids)).values(source_id=source_id, **CLEARED))
        made[source_id] = [m.school_id for m in members]
    return made


def _unique_name(row, taken: set[tuple[int, str]]) -> str:
    """"District — Vendor", then with the host, then numbered, so names stay unique within a district."""
    base = f"{row.district_name} — {VENDOR_LABELS.get(row.vendor, row.vendor)}"[:170]
    for name in (base, f"{base} ({_host(row.url)})"[:190], *(f"{base} {n}" for n in range(2, 10_000))):
        if (row.district_id, name) not in taken:
            taken.add((row.district_id, name))
            return name
    raise RuntimeError("no free source name")  # 10,000 sources in one district: not a real district


def downgrade():
    bind = op.get_bind()
    conn, _school, _district, source, _optional = _tables(bind)
    for row in bind.execute(sa.select(source)).all():
        bind.execute(conn.update().where(conn.c.source_id == row.id).values(
            method=row.method, vendor=row.vendor, **{name: getattr(row, name) for name in CREDENTIALS}))
    with op.batch_alter_table("roster_connection") as batch:
        batch.drop_index("ix_roster_connection_source_id")
        batch.drop_constraint("fk_roster_connection_source_id", type_="foreignkey")
        batch.drop_column("source_id")
    op.drop_index("ix_source_district_id", "source")
    op.drop_table("source")
