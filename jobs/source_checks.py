"""Test connection of a district's source: the checklist, plus the SIS's schools for the mapping.

Queued from the district's Sources page like a school's test (check_records: per-user limits, the settings
sealed apart from the job), run inline by `roster source test`. A source serves many schools, so the checklist
runs against one of them: the school the caller chose (the first mapped one), or the SIS's first school.
"""
import json
import secrets
import time
from dataclasses import asdict, dataclass, field, replace

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError

from connectors.checklist import REQUEST_TIMEOUT, CheckRow, headline, run_connection_test
from connectors.client import OneRosterClient
from connectors.errors import ConnectorError
from connectors.netguard import OutboundPolicy
from connectors.redact import Redactor
from connectors.secret_reuse import credential_origins
from connectors.settings import ConnectionSettings
from store.db import db
from store.models import AuditEvent, RosterConnection, Source, utcnow
from store.secrets import fernet

from . import check_records
from .checks import GONE
from .outbound import outbound_policy

PREFIX = "portal:source-test"
# The SIS's schools as the last test listed them (names and ids only), under the source's id and creation time: a
# source removed and another made with its id (SQLite reuses ids, even in another district) must not show its list.
SCHOOLS_KEY = "portal:source-schools:{}:{}"


def schools_key(source: Source) -> str:
    return SCHOOLS_KEY.format(source.id, int(source.created_at.timestamp() * 1_000_000))
SCHOOLS_SECONDS = 86400
JOB = "jobs.source_checks.run_queued_source_test"
LIST_SECONDS = 15.0


@dataclass
class SourceTest(check_records.ConnectionTest):
    """A connection test of a source: bound to the user and the source's district; school_id is unused (0)."""

    source_id: int = 0
    district_id: int = 0
    schools: list[dict] = field(default_factory=list)  # [{"source_id", "name", "identifier"}]

    def belongs_to_source(self, user_id: int, source_id: int) -> bool:
        return self.user_id == user_id and self.source_id == source_id


def new_test(user_id: int, source: Source, settings: ConnectionSettings) -> SourceTest:
    return SourceTest(check_id=secrets.token_urlsafe(18), user_id=user_id, school_id=0, vendor=settings.vendor,
                      host=", ".join(sorted(credential_origins(settings))), started_at=time.time(),
                      source_id=source.id, district_id=source.district_id)


def save(redis: Redis, test: SourceTest) -> None:
    redis.set(f"{PREFIX}:{test.check_id}", json.dumps(asdict(test)), ex=check_records.RESULT_SECONDS)


def load(redis: Redis, check_id: str) -> SourceTest | None:
    if not check_records.CHECK_ID.match(check_id or ""):
        return None
    raw = redis.get(f"{PREFIX}:{check_id}")
    return SourceTest(**json.loads(raw)) if raw else None


def listed_schools(redis: Redis, source: Source) -> list[dict] | None:
    """The SIS's schools from the source's last test (None when it was not tested in the last day)."""
    raw = redis.get(schools_key(source))
    return json.loads(raw) if raw else None


def _list_schools(settings: ConnectionSettings, policy: OutboundPolicy) -> list[dict]:
    """Every school the SIS lists; [] when it cannot (the checklist then says why)."""
    client = OneRosterClient(settings, timeout=REQUEST_TIMEOUT, max_retries=1,
                             deadline=time.monotonic() + LIST_SECONDS, policy=policy,
                             redactor=Redactor(settings.client_secret, settings.client_id))
    try:
        with client:
            schools = client.get_schools()
    except ConnectorError:
        return []
    return [asdict(school) for school in sorted(schools, key=lambda s: (s.name.lower(), s.source_id))]  # as shown


def check_source(source_id: int, settings: ConnectionSettings, actor_id: int | None,
                 redis: Redis | None = None) -> tuple[list[CheckRow], list[dict]]:
    """List the SIS's schools, run the checklist on one of them, note the source's health; (rows, schools)."""
    policy = outbound_policy()
    schools = _list_schools(settings, policy)
    ids = {school["source_id"].lower() for school in schools}
    if schools and settings.school_id.lower() not in ids:
        settings = replace(settings, school_id=schools[0]["source_id"])
    rows = run_connection_test(settings, policy=policy)
    source = db.session.get(Source, source_id)
    if redis is not None and schools and source is not None:
        try:
            redis.set(schools_key(source), json.dumps(schools), ex=SCHOOLS_SECONDS)
        except RedisError:
            pass  # the CLI without Redis: the list is printed; the page asks for a test again
    if source is not None:
        source.last_tested_at, source.last_test_result = utcnow(), headline(rows)[:200]
        detail = check_records.audit_detail(", ".join(sorted(credential_origins(settings))), rows)
        mapped = db.session.scalars(db.select(RosterConnection.school_id).where(RosterConnection.source_id == source_id))
        db.session.add_all([AuditEvent(school_id=school_id, actor_id=actor_id, action="connection_tested",
                                       detail=f"District source {source.name}: {detail}") for school_id in mapped])
        db.session.commit()
    return rows, schools


def run_queued_source_test(check_id: str) -> None:
    """The worker's side of a queued source test (inside portal.worker's app context). Safe to retry."""
    redis = current_app.redis
    test = load(redis, check_id)
    if test is None or test.done:
        return
    try:
        settings = check_records.take_sealed(redis, fernet(), check_id)
        if settings is None:
            rows, schools = [GONE], []
        else:
            test.status = "running"
            save(redis, test)
            rows, schools = check_source(test.source_id, settings, test.user_id, redis)
        test.status, test.rows, test.schools = "done", [asdict(row) for row in rows], schools
        save(redis, test)
    finally:
        check_records.release(redis, test.user_id, check_id)
