"""Database models: the directory (districts, schools, people) and roster sync records."""
from __future__ import annotations

import secrets
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger, Boolean, CheckConstraint, Date, Float, ForeignKey, Index, Integer, LargeBinary, String, Text,
    UniqueConstraint, false, func, literal_column, or_, text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .db import db
from .types import UTCDateTime
from .vocabulary import ROLE_LABELS, ROLE_TOGGLES  # noqa: F401 (ROLE_LABELS: its one home is vocabulary)

ROLES = ("student", "teacher", "staff", "school_admin", "owner", "district_manager")
ROSTER_MANAGER_ROLES = ("owner", "district_manager")
RUN_FINAL_STATUSES = ("succeeded", "failed", "needs_review", "skipped")
RUN_COUNTS = ("fetched", "created", "updated", "linked", "skipped", "unchanged", "archived", "issues")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class District(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="America/Los_Angeles")

    schools: Mapped[list[School]] = relationship(back_populates="district", order_by="School.name")

    @property
    def zone(self) -> ZoneInfo:
        """The district's zone; a broken zone name falls back to UTC rather than stopping every school."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            return ZoneInfo("UTC")


class School(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)

    district: Mapped[District] = relationship(back_populates="schools")


_SIGNS_IN_SQL = "password_hash IS NOT NULL OR role IN ('owner', 'district_manager')"  # Person.can_sign_in


# People search's text on PostgreSQL: names, the email's part before the @ and SIS id, one space between (a searched
# word holds no space, so it never matches across two of them). portal/people/directory.py matches this expression
# exactly, so the trigram index below serves LIKE '%word%' (migration c9e4a1f7b3d2 says why one index over this text
# and why the email's domain is left out of it; f3a7c1e9b5d2 why the sourcedId is matched whole, beside it).
SEARCH_TEXT_SQL = "lower(given_name || ' ' || family_name || ' ' || split_part(email, '@', 1) || ' ' || sis_id)"


def _search_index() -> Index:
    """People search's trigram index (PostgreSQL with pg_trgm; SQLite has person_search, an FTS5 table)."""
    return Index("ix_person_search_trgm", literal_column(f"({SEARCH_TEXT_SQL})").label("search"),
                 postgresql_using="gin", postgresql_ops={"search": "gin_trgm_ops"}).ddl_if(dialect="postgresql")


class Person(UserMixin, db.Model):
    """One person in a school's directory; owners and district managers can also sign in."""

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("district.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    given_name: Mapped[str] = mapped_column(String(200), default="")
    middle_name: Mapped[str] = mapped_column(String(200), default="")
    family_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")  # stored lower-case
    username: Mapped[str] = mapped_column(String(200), default="")
    sis_id: Mapped[str] = mapped_column(String(200), default="")
    grade: Mapped[str] = mapped_column(String(50), default="")
    phone: Mapped[str] = mapped_column(String(100), default="")
    parent_name: Mapped[str] = mapped_column(String(400), default="")
    parent_email: Mapped[str] = mapped_column(String(320), default="")
    parent_phone: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | archived
    archived_by: Mapped[str] = mapped_column(String(16), default="")  # "" | sync | manual
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source_id: Mapped[str | None] = mapped_column(String(255))  # SIS sourcedId; None for people made by hand
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sync_enabled: Mapped[bool] = mapped_column(Boolean, default=True)  # off: the sync never touches them
    password_hash: Mapped[str | None] = mapped_column(String(255))
    session_token: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_hex(16))
    sync_report_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    school: Mapped[School | None] = relationship(foreign_keys=[school_id])
    district: Mapped[District | None] = relationship(foreign_keys=[district_id])

    __table_args__ = (
        UniqueConstraint("school_id", "source_id", name="uq_person_school_source"),
        Index("ix_person_school_name", "school_id", "family_name", "given_name", "id"),
        Index("ix_person_school_role", "school_id", "role"),
        Index("ix_person_email", "email"),
        Index("ix_person_sign_in", "school_id", "email",  # partial: who can sign in (migration c7f3a9e2b4d1)
              postgresql_where=text(_SIGNS_IN_SQL), sqlite_where=text(_SIGNS_IN_SQL)),
        _search_index(),
    )

    # flask-login keeps get_id() in the session and the remember cookie: the token of this sign-in's
    # SignInSession row (portal/auth/sessions.py), never the account id, so deleting the row ends both.
    sign_in_token = None  # set by begin() or the loader, for this request only

    def get_id(self) -> str:
        if not self.sign_in_token:
            raise RuntimeError("Sign in through portal.auth.sessions.begin, which records the session first.")
        return self.sign_in_token

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.given_name, self.family_name) if p) or self.email

    @property
    def is_rostered(self) -> bool:
        return self.source_id is not None

    @hybrid_property
    def can_sign_in(self) -> bool:
        """Has a password, or will get one (owners and district managers): SIS data never changes such an account."""
        return self.password_hash is not None or self.role in ROSTER_MANAGER_ROLES

    @can_sign_in.inplace.expression
    @classmethod
    def _can_sign_in_expression(cls):
        return or_(cls.password_hash.is_not(None), cls.role.in_(ROSTER_MANAGER_ROLES))

    @property
    def can_manage_rostering(self) -> bool:
        return self.role in ROSTER_MANAGER_ROLES

    def manages(self, school: School) -> bool:
        """True when this account may manage that school's directory and rostering."""
        if self.status != "active":
            return False
        if self.role == "owner":
            return self.school_id == school.id
        if self.role == "district_manager":
            return self.district_id == school.district_id
        return False

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)
        self.session_token = secrets.token_hex(16)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)


class SignInSession(db.Model):
    """One signed-in browser: its cookies carry a random token, this row only the token's hash.

    Sign-out deletes the row; a password change rotates Person.session_token, which ends every row made
    under the old one.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_token: Mapped[str] = mapped_column(String(64))  # Person.session_token when it began
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    person: Mapped[Person] = relationship()


class Source(db.Model):
    """A district's SIS tenant (vendor, URLs, credentials, nightly time); its schools map to it by SIS school id."""

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))  # e.g. "Demo Unified — Aeries"
    method: Mapped[str] = mapped_column(String(32), default="oneroster")  # oneroster (API) | csv
    vendor: Mapped[str] = mapped_column(String(32), default="aeries")  # a connectors.profiles key
    url: Mapped[str] = mapped_column(String(2000), default="")
    token_url: Mapped[str] = mapped_column(String(2000), default="")
    auth_mode: Mapped[str] = mapped_column(String(16), default="oauth2")
    client_id: Mapped[str] = mapped_column(String(500), default="")
    secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    app_name: Mapped[str] = mapped_column(String(200), default="")
    scope: Mapped[str] = mapped_column(String(1000), default="")
    oneroster_version: Mapped[str] = mapped_column(String(8), default="1.1")
    credentials_expire_on: Mapped[date | None] = mapped_column(Date)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    sync_time: Mapped[str] = mapped_column(String(5), default="02:00")  # local HH:MM in the district's zone
    # A CSV source (method "csv"): a valid bundle that arrives is synced "now" or waits for the "nightly" run.
    csv_sync_on_receipt: Mapped[str] = mapped_column(String(8), default="now", server_default="now")
    last_tested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the health owners see, read-only
    last_test_result: Mapped[str] = mapped_column(String(200), default="")  # the checklist's headline
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    district: Mapped[District] = relationship()
    connections: Mapped[list[RosterConnection]] = relationship(back_populates="source")

    __table_args__ = (UniqueConstraint("district_id", "name", name="uq_source_district_name"),)

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)

    def __repr__(self) -> str:  # never the secret
        return f"<Source {self.id} district={self.district_id} vendor={self.vendor}>"


class MappedCredentials:
    """A mapped school's SIS as the vendor profiles read a saved row: the source's columns, the school's id."""

    def __init__(self, source: Source, sis_school_id: str):
        self.source, self.sis_school_id = source, sis_school_id

    @property
    def credentials(self) -> MappedCredentials:
        return self

    def __getattr__(self, name):
        return getattr(self.source, name)


class RosterConnection(db.Model):
    """A school's SIS connection and its sync settings; the secret is stored encrypted.

    A school mapped to a district's Source (source_id) takes the SIS, URLs and secret from it; its own
    credential columns are then unused and sis_school_id is the mapping. The sync settings stay the school's.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), unique=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("source.id"), index=True)
    method: Mapped[str] = mapped_column(String(32), default="oneroster")
    vendor: Mapped[str] = mapped_column(String(32), default="aeries")  # a connectors.profiles key (aeries, powerschool, classlink, ...)
    url: Mapped[str] = mapped_column(String(2000), default="")
    token_url: Mapped[str] = mapped_column(String(2000), default="")
    auth_mode: Mapped[str] = mapped_column(String(16), default="oauth2")
    client_id: Mapped[str] = mapped_column(String(500), default="")
    secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    sis_school_id: Mapped[str] = mapped_column(String(200), default="")
    app_name: Mapped[str] = mapped_column(String(200), default="")
    scope: Mapped[str] = mapped_column(String(1000), default="")  # "Other" provider's scopes override; "" = default
    oneroster_version: Mapped[str] = mapped_column(String(8), default="1.1")  # "1.1" or "1.2"
    credentials_expire_on: Mapped[date | None] = mapped_column(Date)  # the page and report warn 30 days before
    # The version whose sourcedIds the school's people carry (set by each applied full sync): when it differs from
    # oneroster_version, the next full sync re-keys people by SIS id and email (jobs.rekey).
    keyed_version: Mapped[str] = mapped_column(String(8), default="1.1")

    sync_students: Mapped[bool] = mapped_column(Boolean, default=True)
    sync_teachers: Mapped[bool] = mapped_column(Boolean, default=True)
    sync_staff: Mapped[bool] = mapped_column(Boolean, default=True)
    sync_admins: Mapped[bool] = mapped_column(Boolean, default=True)
    sync_parents: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_update: Mapped[bool] = mapped_column(Boolean, default=False)
    archive: Mapped[bool] = mapped_column(Boolean, default=False)
    additions_only: Mapped[bool] = mapped_column(Boolean, default=False)
    archive_threshold_percent: Mapped[float] = mapped_column(Float, default=10.0)
    # Roles (comma-separated) that Auto update or Archive leave alone, e.g. "teacher,staff".
    no_update_roles: Mapped[str] = mapped_column(String(100), default="")
    no_archive_roles: Mapped[str] = mapped_column(String(100), default="")

    # The CSV method: a bundle that arrives (SFTP, upload) is synced "now" or waits for the "nightly" run.
    csv_sync_on_receipt: Mapped[str] = mapped_column(String(8), default="now")

    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    sync_time: Mapped[str] = mapped_column(String(5), default="02:00")  # local HH:MM in the district's zone

    last_full_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    high_water_mark: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settings_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    school: Mapped[School] = relationship()
    source: Mapped[Source | None] = relationship(back_populates="connections")

    @property
    def credentials(self) -> RosterConnection | MappedCredentials:
        """Where the school's SIS, URLs and secret live: its source when mapped, else its own columns."""
        if self.source_id is not None and self.source is not None:
            return MappedCredentials(self.source, self.sis_school_id)
        return self

    @property
    def has_secret(self) -> bool:
        """True when the school has credentials to sync with (its own, or its source's)."""
        return bool(self.credentials.secret_encrypted)

    @property
    def can_sync(self) -> bool:
        """Saved well enough to sync: the API needs its secret; the CSV method reads received bundles instead."""
        return self.method == "oneroster_csv" or self.has_secret

    @property
    def enabled_roles(self) -> set[str]:
        return {toggle.role for toggle in ROLE_TOGGLES if getattr(self, toggle.column)}

    @property
    def update_excluded_roles(self) -> frozenset[str]:
        return frozenset(r for r in (self.no_update_roles or "").split(",") if r)

    @property
    def archive_excluded_roles(self) -> frozenset[str]:
        return frozenset(r for r in (self.no_archive_roles or "").split(",") if r)

    def __repr__(self) -> str:  # never the secret
        return f"<RosterConnection school={self.school_id} vendor={self.vendor}>"


def _next_run_number(context) -> int:
    """The school's next run number (1, 2, 3…), read in the inserting transaction; shown instead of the global id."""
    school_id = context.get_current_parameters()["school_id"]
    latest = context.connection.scalar(
        text("SELECT MAX(number) FROM sync_run WHERE school_id = :school"), {"school": school_id})
    return (latest or 0) + 1


class SyncRun(db.Model):
    """One sync (or preview) of a school; the page renders progress from this row."""

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"))
    number: Mapped[int | None] = mapped_column(Integer, default=_next_run_number)  # per school (migration d8e2f4a6b1c3)
    trigger: Mapped[str] = mapped_column(String(16))  # manual | nightly | preview | cli
    status: Mapped[str] = mapped_column(String(16), default="queued")
    phase: Mapped[str] = mapped_column(String(32), default="queued")
    percent: Mapped[int] = mapped_column(Integer, default=0)
    full_fetch: Mapped[bool] = mapped_column(Boolean, default=True)
    local_date: Mapped[str | None] = mapped_column(String(10))  # nightly runs: the school's local date
    job_id: Mapped[str | None] = mapped_column(String(100))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archive_override: Mapped[bool] = mapped_column(Boolean, default=False)
    # The CSV method: the bundle this run reads (None for an API run).
    bundle_id: Mapped[int | None] = mapped_column(ForeignKey("roster_bundle.id", ondelete="SET NULL"))
    # A threshold for this run only (Sync now with "allow up to N% this once"); None uses the connection's.
    archive_threshold_override: Mapped[float | None] = mapped_column(Float)
    # The threshold the guard applied to this run (override or saved), kept so the held run reads the same later.
    archive_threshold_applied: Mapped[float | None] = mapped_column(Float)
    # Roles the guard left out of its count (Archive never removes them), comma-separated, as they were then.
    archive_uncounted_roles: Mapped[str] = mapped_column(String(100), default="")
    would_archive: Mapped[int] = mapped_column(Integer, default=0)
    # A preview whose archiving the guard would stop: the real run would be held for review (migration a4c8e2f1b7d9).
    would_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    rostered_total: Mapped[int] = mapped_column(Integer, default=0)
    # An undo run (trigger "undo"): the run whose changes it reversed (jobs/undo.py).
    undoes_run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_run.id", ondelete="SET NULL"), index=True)

    fetched: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    linked: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    archived: Mapped[int] = mapped_column(Integer, default=0)
    issues: Mapped[int] = mapped_column(Integer, default=0)
    # People whose SIS sourcedId changed (a move to OneRoster 1.2): their record id was updated, nobody re-created.
    rekeyed: Mapped[int] = mapped_column(Integer, default=0)

    error_message: Mapped[str] = mapped_column(Text, default="")
    report_status: Mapped[str] = mapped_column(String(16), default="")  # "" | sent | not_sent | none_opted_in
    report_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    school: Mapped[School] = relationship()

    __table_args__ = (
        Index("ix_sync_run_school_created", "school_id", "created_at"),
        Index("ix_sync_run_school_number", "school_id", "number"),
        # A second scheduler or a double tick cannot create a second nightly run for one local night.
        Index("uq_sync_run_nightly", "school_id", "local_date", unique=True),
    )

    @property
    def is_final(self) -> bool:
        return self.status in RUN_FINAL_STATUSES

    @property
    def read_from(self) -> str:
        """What its "fetched" count was read from, as the run page, the progress card and the report say it."""
        return "Read from the CSV bundle" if self.bundle_id else "Read from the SIS"

    @property
    def shown_number(self) -> int:
        """The run's number within its school (URLs keep the global id)."""
        return self.number or self.id

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        return ((self.finished_at or utcnow()) - self.started_at).total_seconds()

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in RUN_COUNTS}


class RunRoleCount(db.Model):
    """The school's rostered, active people of one role right after a run changed the directory (history chart)."""

    run_id: Mapped[int] = mapped_column(ForeignKey("sync_run.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    people: Mapped[int] = mapped_column(Integer, default=0)


BUNDLE_STATUSES = ("received", "valid", "invalid", "refused", "synced")


class RosterBundle(db.Model):
    """A OneRoster CSV bundle a school sent (SFTP, upload, CLI): where its file is kept and what validation found.

    Retention (jobs/bundles.py) deletes the file after 30 days or once ten newer bundles arrived, and sets deleted_at.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    # A school's bundle, or a district CSV source's (read once for each of its mapped schools): exactly one is set.
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"))
    via: Mapped[str] = mapped_column(String(16))  # upload | sftp | cli
    filename: Mapped[str] = mapped_column(String(255), default="")  # as it was sent (shown, never a path)
    stored_path: Mapped[str] = mapped_column(String(1000), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="received")  # one of BUNDLE_STATUSES
    version: Mapped[str] = mapped_column(String(8), default="")  # OneRoster 1.1 | 1.2, from the manifest
    users_mode: Mapped[str] = mapped_column(String(8), default="")  # bulk | delta, from the manifest
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    warning_count: Mapped[int] = mapped_column(Integer, default=0)
    users: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # distinct sourcedIds in users.csv
    summary: Mapped[str] = mapped_column(Text, default="")  # one sentence for the list, written for the owner
    report_csv: Mapped[str] = mapped_column(Text, default="")  # the validation report (connectors.csvbundle.Report)
    # The last run that read it (SyncRun.id; no foreign key, since SyncRun.bundle_id points this way already).
    run_id: Mapped[int | None] = mapped_column(Integer)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    school: Mapped[School | None] = relationship()
    source: Mapped[Source | None] = relationship()

    __table_args__ = (Index("ix_roster_bundle_school_received", "school_id", "received_at"),
                      Index("ix_roster_bundle_source_received", "source_id", "received_at"),
                      CheckConstraint("(school_id IS NULL) <> (source_id IS NULL)", name="ck_roster_bundle_one_owner"))

    @property
    def downloadable(self) -> bool:
        return self.deleted_at is None and bool(self.stored_path)


class SyncIssue(db.Model):
    """A per-record problem found during a run; the rest of the roster still syncs."""

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_run.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    record: Mapped[str] = mapped_column(Text, default="", server_default="")  # raw SIS excerpt, run page only


class SyncChange(db.Model):
    """Field-level change log: what a run did (or, for a preview, would do) to a person."""

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_run.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    source_id: Mapped[str] = mapped_column(String(255), default="")
    action: Mapped[str] = mapped_column(String(16))  # create | update | link | archive | skip
    field: Mapped[str] = mapped_column(String(40), default="")
    before: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[str] = mapped_column(Text, default="")


class AuditColumns:
    """Who did what and when, as a school's log and the district's log both record it (never secrets)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @declared_attr
    def actor(cls) -> Mapped[Person | None]:
        return relationship(Person)

    @classmethod
    def _add(cls, actor: Person | None, **where):
        """Add an event to the session (the caller commits it with the change it describes)."""
        event = cls(actor_id=actor.id if actor else None, **where)
        db.session.add(event)
        return event


class AuditEvent(AuditColumns, db.Model):
    """Who changed rostering settings or ran, approved or previewed a sync."""

    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)

    @classmethod
    def record(cls, school: School, actor: Person | None, action: str, detail: str) -> AuditEvent:
        return cls._add(actor, school_id=school.id, action=action, detail=detail)


class DistrictAuditEvent(AuditColumns, db.Model):
    """Who changed the district's own rostering set-up (its SIS sources), which no school's log would show: a
    source no school syncs from yet, or one removed."""

    district_id: Mapped[int] = mapped_column(ForeignKey("district.id", ondelete="CASCADE"), index=True)

    @classmethod
    def record(cls, district: District, actor: Person | None, action: str, detail: str) -> DistrictAuditEvent:
        return cls._add(actor, district_id=district.id, action=action, detail=detail)


class BlackoutPeriod(db.Model):
    """A seasonal pause: nightly syncs of the school are skipped on these local dates (inclusive)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SourceNight(db.Model):
    """One district night of a source: one read of its SIS, then one plan-and-apply run per mapped school."""

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"))
    local_date: Mapped[str | None] = mapped_column(String(10))  # nightly: the district's local date; else None
    trigger: Mapped[str] = mapped_column(String(16))  # nightly | cli | manual (Run tonight's sync now)
    # queued | reading | planning | succeeded | problems (some school did not succeed) | failed | skipped
    status: Mapped[str] = mapped_column(String(16), default="queued")
    job_id: Mapped[str | None] = mapped_column(String(100))
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a delta read's start; None: a full read
    schools: Mapped[int] = mapped_column(Integer, default=0)
    records_read: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str] = mapped_column(Text, default="")
    digest_status: Mapped[str] = mapped_column(String(16), default="")  # "" | sent | not_sent | none_opted_in
    digest_error: Mapped[str] = mapped_column(Text, default="")  # why a not_sent digest was not sent (no secret)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the SIS read ended (complete)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    source: Mapped[Source] = relationship()

    __table_args__ = (
        # Two dispatchers (or a double tick) cannot start a second night of one source for one local date.
        Index("uq_source_night_local_date", "source_id", "local_date", unique=True),
    )

    @property
    def is_final(self) -> bool:
        return self.finished_at is not None


class SourceNightRun(db.Model):
    """A school's run that belongs to a source night."""

    night_id: Mapped[int] = mapped_column(ForeignKey("source_night.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_run.id", ondelete="CASCADE"), primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"))
    # What the read filed for this school (set when the read starts): its plan refuses to run on anything else.
    roles: Mapped[str] = mapped_column(String(100), default="")
    sis_school_id: Mapped[str] = mapped_column(String(255), default="")

    run: Mapped[SyncRun] = relationship()


class SpoolRecord(db.Model):
    """A raw SIS record a night read, filed under the school it goes to (school_id None: a parent not yet
    routed). Rows live only while their night runs (UNLOGGED on PostgreSQL: a spool needs no crash safety)."""

    id: Mapped[int] = mapped_column(db.BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    night_id: Mapped[int] = mapped_column(Integer)  # no foreign key: COPY into the spool checks nothing per row
    school_id: Mapped[int | None] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)  # the fetch step the record belongs to (jobs.fetch.STEPS)
    payload: Mapped[str] = mapped_column(Text)  # the record as jobs.spool.pack_record packed it

    __table_args__ = (Index("ix_spool_record_school", "night_id", "school_id", "step", "id"),)


class DistrictReportChoice(db.Model):
    """What a District Manager gets by email after a district night: one digest, or each school's report."""

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8))  # digest | each
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SftpAccount(db.Model):
    """A school's or a district CSV source's account on the SFTP drop (python -m portal.sftp): a password hash
    and/or SSH public keys. Exactly one owner is set."""

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"), unique=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"), unique=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    authorized_keys: Mapped[str] = mapped_column(Text, default="")  # OpenSSH authorized_keys lines
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    school: Mapped[School | None] = relationship()
    source: Mapped[Source | None] = relationship()

    __table_args__ = (CheckConstraint("(school_id IS NULL) <> (source_id IS NULL)", name="ck_sftp_account_one_owner"),)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:  # never the hash
        return f"<SftpAccount {self.username} school={self.school_id} source={self.source_id}>"
