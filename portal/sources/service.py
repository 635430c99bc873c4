"""What the district's Sources page and `roster source …` call: save a source with the vendor forms' rules,
map schools to its SIS schools (or add one to the portal), unmap them. Every change is audited on the schools."""
import dataclasses
import re
import secrets
import shutil
from datetime import datetime, timezone

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError

from connectors.errors import InvalidSettings
from connectors.netguard import OutboundPolicy
from connectors.profiles import PROFILES, ConnectionSettings, get_profile
from jobs.bundle_files import API_METHOD, remove_file
from jobs.connection import get_connection
from jobs.source_bundles import CSV_SOURCE, delete_source_rows
from jobs.source_checks import schools_key
from jobs.tenants import attach, mapped_elsewhere, tenant_source
from store.db import db
from store.models import (AuditEvent, District, DistrictAuditEvent, MappedCredentials, Person, RosterBundle,
                          RosterConnection, School, Source)
from store.secrets import encrypt_secret
from store.vocabulary import clock_text

from ..rostering import service as rostering
from ..sftp import accounts as sftp_accounts

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def source_fields(vendor: str) -> list:
    """The vendor's form fields (OneRoster version and expiry date included) without School ID: each mapped
    school brings its own."""
    return [spec for spec in get_profile(vendor).form_fields if spec.name != "school_id"]


def sample_school_id(vendor: str) -> str:
    """A School ID the vendor's rules accept, so the source's own fields can be checked without one."""
    spec = next((s for s in get_profile(vendor).fields if s.name == "school_id"), None)
    return spec.placeholder if spec is not None and spec.placeholder else "district"


def mapped_connections(source: Source) -> list[RosterConnection]:
    return list(db.session.scalars(db.select(RosterConnection).where(RosterConnection.source_id == source.id)
                                   .join(School).order_by(School.name)))


def validate_source(vendor: str, values: dict, source: Source | None = None,
                    policy: OutboundPolicy | None = None) -> ConnectionSettings:
    """The school form's rules (a blank secret reuses the saved one under reuse_refusal); raises InvalidSettings."""
    probe = sample_school_id(vendor) if vendor in PROFILES else ""
    existing = MappedCredentials(source, probe) if source is not None and source.has_secret else None
    return rostering.validate_connection(None, vendor, {**values, "school_id": probe}, existing=existing,
                                         policy=policy)


def settings_to_test(source: Source, vendor: str, values: dict, policy: OutboundPolicy | None = None
                     ) -> ConnectionSettings:
    """The settings a source test runs on: checked by the form's rules, pointed at the first mapped school."""
    settings = validate_source(vendor, values, source, policy)
    first = next((conn.sis_school_id for conn in mapped_connections(source) if conn.sis_school_id), "")
    return dataclasses.replace(settings, school_id=first or settings.school_id)


def clean_name(district: District, name: str, default: str, source: Source | None) -> str:
    """The source's name (`default` when blank): one line, at most 200 characters, unique in the district."""
    name = " ".join((name or "").split()) or default
    if len(name) > 200 or _CONTROL.search(name):
        raise InvalidSettings({"name": "Give the source a name of at most 200 characters, on one line."})
    taken = db.session.scalar(db.select(Source.id).where(Source.district_id == district.id, Source.name == name,
                                                         Source.id != (source.id if source else -1)))
    if taken:
        raise InvalidSettings({"name": f"{district.name} already has a source named \"{name}\"; choose another name."})
    return name


def save_source(district: District, vendor: str, values: dict, actor: Person | None, *, source: Source | None = None,
                name: str = "", automatic: bool | None = None, sync_time: str | None = None) -> Source:
    """Validate and save a source (new when `source` is None); its schools' next syncs are full."""
    errors, settings = {}, None
    try:
        settings = validate_source(vendor, values, source)
    except InvalidSettings as exc:
        errors.update(exc.errors)
    if vendor in PROFILES:
        try:
            name = clean_name(district, name, f"{district.name} — {PROFILES[vendor].label}", source)
        except InvalidSettings as exc:
            errors.update(exc.errors)
        if settings is not None:
            # Any source on the tenant, whatever its secret: two would read the SIS twice a night and could map one
            # SIS school to two portal schools; a new secret belongs on the source that has the Client ID.
            twin = tenant_source(district.id, settings, exclude=source)
            if twin is not None:
                errors["url"] = (f"The source \"{twin.source.name}\" already reads this SIS with this Client ID: "
                                 "map its schools there, so the SIS is read once a night for all of them.")
    sync_time = (sync_time if sync_time is not None else (source.sync_time if source else "02:00")).strip()
    if not rostering.SYNC_TIME_RE.match(sync_time):
        errors["sync_time"] = "Give the time as HH:MM on a 24-hour clock, e.g. 02:00."
    if errors:
        raise InvalidSettings(errors)
    added = source is None
    if source is None:
        source = Source(district_id=district.id)
        db.session.add(source)
    source.name, source.method, source.vendor = name, "oneroster", vendor
    for column, value in PROFILES[vendor].saved_fields(settings).items():
        if column != "sis_school_id" and hasattr(Source, column):  # what the school form saves, bar the school
            setattr(source, column, value)
    source.secret_encrypted = encrypt_secret(settings.client_secret)
    source.sync_time = sync_time
    if automatic is not None:
        source.automatic = bool(automatic)
    db.session.flush()
    now = datetime.now(timezone.utc)
    detail = (f"District source {name} saved: {PROFILES[vendor].label}, {settings.base_url}, client id "
              f"{settings.client_id}; credentials go to {rostering.credential_hosts(settings)}.")
    for conn in mapped_connections(source):
        conn.settings_changed_at = now  # another SIS or credentials: the next sync reads everything
        conn.method = API_METHOD  # a source that received CSV before now reads its SIS
    audit_saved(district, source, actor, detail, added=added)
    return source


def audit_saved(district: District, source: Source, actor: Person | None, detail: str, *, added: bool) -> None:
    """Record a saved source on each mapped school's log and the district's (with its nightly time); commits."""
    for conn in mapped_connections(source):
        AuditEvent.record(conn.school, actor, "settings_changed", detail)
    nightly = f"nightly at {clock_text(source.sync_time)}" if source.automatic else "no nightly sync"
    DistrictAuditEvent.record(district, actor, "source_added" if added else "source_saved",
                              f"{detail[:-1]}; {nightly}.")
    db.session.commit()


def _clean_sis_id(value) -> str:
    value = str(value or "").strip()
    if not value:
        raise InvalidSettings({"sis_school_id": "Choose the SIS school, or type its School ID as the SIS lists it."})
    if len(value) > 200 or _CONTROL.search(value):
        raise InvalidSettings({"sis_school_id": "That School ID is too long or not on one line; paste only the id."})
    return value


def _one_line(label: str) -> str:
    """The SIS's name of a school, only a label in the audit log: control characters (a NUL byte, which PostgreSQL
    refuses to store, made the mapping a 500) become spaces, and it is kept to 200 characters."""
    return " ".join(_CONTROL.sub(" ", str(label or "")).split())[:200]


def map_school(source: Source, school: School, sis_school_id, actor: Person | None, sis_name: str = ""
               ) -> RosterConnection:
    """Map the school to one of the source's SIS schools; its own credentials (if any) give way to the source's."""
    if school.district_id != source.district_id:
        raise InvalidSettings({"school": f"{school.name} is not a school of this source's district."})
    sis_id = _clean_sis_id(sis_school_id)
    other = mapped_elsewhere(source, school, sis_id)
    if other is not None:
        raise InvalidSettings({"sis_school_id": f"SIS school {sis_id} is already mapped to {other.name}; "
                                                "unmap it there first."})
    # A school first connected by its mapping follows the source's nights (the source's own switch decides);
    # a school that had a connection keeps its owner's Automatic Rostering choice.
    conn, had_own = attach(school, source, sis_id, automatic=True)
    sis_name = _one_line(sis_name)
    shown = f"{sis_name} ({sis_id})" if sis_name else sis_id
    AuditEvent.record(school, actor, "source_mapped",
                      f"Mapped to the district source {source.name} as SIS school {shown}"
                      + ("; the school's own saved credentials were removed." if had_own else "."))
    db.session.commit()
    return conn


def unmap_school(school: School, actor: Person | None) -> RosterConnection:
    """The school leaves its source and keeps its sync settings; it syncs again once it saves a connection."""
    conn = get_connection(school)
    if conn is None or conn.source is None:
        raise InvalidSettings({"school": f"{school.name} is not mapped to a district source."})
    name = conn.source.name
    conn.source_id, conn.source, conn.settings_changed_at = None, None, datetime.now(timezone.utc)
    AuditEvent.record(school, actor, "source_unmapped",
                      f"Unmapped from the district source {name}; the school needs a connection of its own to sync.")
    db.session.commit()
    return conn


SLUG_SUFFIX_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or typed from a URL
SLUG_SUFFIX_LENGTH = 5
SLUG_TRIES = 5


def _slug_for(name: str) -> str:
    """The name plus a random suffix, always: a suffix only on a clash (or a count, "-2") would tell the manager
    that another district has a school of that name. 31**5 suffixes make a clash rare; _insert_school retries."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:70] or "school"
    return f"{base}-{''.join(secrets.choice(SLUG_SUFFIX_ALPHABET) for _ in range(SLUG_SUFFIX_LENGTH))}"


def _slug_free(slug: str) -> bool:
    return db.session.scalar(db.select(School.id).where(School.slug == slug)) is None


def _insert_school(district_id: int, name: str) -> School:
    """Insert the school under a free slug; a slug taken between the check and the insert (two adds at once) gets
    a new one instead of a 500, and after a few clashes the manager is told to try again."""
    for _ in range(SLUG_TRIES):
        slug = _slug_for(name)
        if not _slug_free(slug):
            continue
        school = School(district_id=district_id, name=name, slug=slug)
        try:
            with db.session.begin_nested():  # only this insert is undone on a clash
                db.session.add(school)
        except IntegrityError:
            continue
        return school
    raise InvalidSettings({"name": "The portal could not give this school a web address just now; "
                                   "please try Add again in a moment."})


def add_school(source: Source, sis_school_id, name: str, actor: Person | None) -> School:
    """Create the SIS school in the portal, in the source's district, mapped to the source."""
    name = " ".join((name or "").split())
    if not name or len(name) > 200 or _CONTROL.search(name):
        raise InvalidSettings({"name": "Give the school a name of at most 200 characters, on one line."})
    sis_id = _clean_sis_id(sis_school_id)
    school = _insert_school(source.district_id, name)
    try:
        map_school(source, school, sis_id, actor, sis_name=name)
    except InvalidSettings:
        db.session.rollback()
        raise
    return school


def delete_source(source: Source, actor: Person | None) -> None:
    """Remove a source no school syncs from (its nights go with it); one with schools is refused."""
    mapped = mapped_connections(source)
    if mapped:
        names = ", ".join(conn.school.name for conn in mapped[:5]) + (" and others" if len(mapped) > 5 else "")
        raise InvalidSettings({"source": f"{len(mapped)} school{'s' if len(mapped) != 1 else ''} still sync from "
                                         f"{source.name} ({names}); unmap them first."})
    stored = list(db.session.scalars(db.select(RosterBundle.stored_path).where(
        RosterBundle.source_id == source.id, RosterBundle.deleted_at.is_(None), RosterBundle.stored_path != "")))
    account = sftp_accounts.account_of(source)
    folder = sftp_accounts.folder_of(account.username) if account is not None else None
    how = "OneRoster CSV" if source.method == CSV_SOURCE else f"{PROFILES[source.vendor].label}, {source.url}"
    cached = schools_key(source)
    DistrictAuditEvent.record(source.district, actor, "source_removed",
                              f"District source {source.name} removed: {how}.")
    if account is not None:
        db.session.delete(account)
    delete_source_rows(source.id)  # its bundles and nights: by hand, since SQLite enforces no ON DELETE
    db.session.delete(source)
    db.session.commit()
    try:
        current_app.redis.delete(cached)  # the list of the SIS's schools its last test cached
    except RedisError:
        pass  # it expires within a day, and no other source can read it (the key holds the creation time)
    for path in stored:  # they hold student data: not left on disk once nobody can see or prune them
        remove_file(path)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
