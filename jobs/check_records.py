"""Connection tests in flight: a short-lived Redis record each, bound to the user and school that started it.

The settings the test runs on (the secret included) reach the worker sealed with the portal's Fernet keys,
under a key of their own that lives two minutes and is deleted when the worker takes it: the RQ job's
arguments hold only the test's random id, so no secret sits in the queue, a job registry or a log.
"""
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass, field

from cryptography.fernet import InvalidToken, MultiFernet
from redis import Redis

from connectors.checklist import CheckRow
from connectors.secret_reuse import credential_origins
from connectors.settings import ConnectionSettings

PREFIX = "portal:connection-test"
RESULT_SECONDS = 600       # a test's checklist can be looked at for ten minutes, then it is gone
SEALED_SECONDS = 120       # the sealed settings outlive a normal queue wait, and little more
GIVE_UP_SECONDS = 90       # run_connection_test stops at 20 s: a test still unfinished by now never will be
MAX_RUNNING = 2            # per user, at once
MAX_STARTS_PER_MINUTE = 6  # per user
JOB = "jobs.checks.run_queued_test"  # enqueued by name: the web layer never imports the job module
JOB_TIMEOUT = 60           # run_connection_test ends itself at 20 s; RQ's limit only catches a stuck worker
CHECK_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class TooManyTests(Exception):
    """The user reached a limit; the message says what to do, retry_after when to try again (seconds)."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.message, self.retry_after = message, retry_after


@dataclass
class ConnectionTest:
    """One test: queued until a worker takes it, running, then done with its checklist rows."""

    check_id: str
    user_id: int
    school_id: int
    vendor: str
    host: str  # the origins the credentials go to, for the audit log
    started_at: float
    status: str = "queued"
    rows: list[dict] = field(default_factory=list)
    fingerprint: str = ""  # a keyed hash of the settings tested (secret included), to tell whether a save was tested

    @property
    def done(self) -> bool:
        return self.status == "done"

    @property
    def stalled(self) -> bool:
        """Not finished long after it should have (no worker took it, or its worker died)."""
        return not self.done and time.time() - self.started_at > GIVE_UP_SECONDS

    @property
    def failed(self) -> bool:
        """Done, and a check the sync needs did not pass."""
        return self.done and any(CheckRow(**row).fails for row in self.rows)

    @property
    def waiting(self) -> bool:
        return not self.done and not self.stalled

    def checks(self) -> list[CheckRow]:
        return [CheckRow(**row) for row in self.rows]

    def belongs_to(self, user_id: int, school_id: int) -> bool:
        return self.user_id == user_id and self.school_id == school_id


def _key(check_id: str, part: str = "") -> str:
    return f"{PREFIX}:{check_id}{':' + part if part else ''}"


def _user_key(user_id: int, part: str) -> str:
    return f"{PREFIX}:user:{user_id}:{part}"


def admit(redis: Redis, user_id: int, check_id: str, now: float | None = None) -> None:
    """Count a start against the user's limits, or refuse it (TooManyTests) and count nothing.

    Added first, then counted: two requests racing for the last place can both be refused, never both let in.
    """
    now = time.time() if now is None else now
    running, starts = _user_key(user_id, "running"), _user_key(user_id, "starts")
    pipe = redis.pipeline()
    pipe.zremrangebyscore(running, 0, now - GIVE_UP_SECONDS)  # a test whose worker died frees its place
    pipe.zremrangebyscore(starts, 0, now - 60)
    pipe.zadd(running, {check_id: now})
    pipe.zadd(starts, {check_id: now})
    pipe.zcard(running)
    pipe.zcard(starts)
    pipe.expire(running, GIVE_UP_SECONDS + 60)
    pipe.expire(starts, 120)
    *_, n_running, n_starts, _, _ = pipe.execute()
    if n_running <= MAX_RUNNING and n_starts <= MAX_STARTS_PER_MINUTE:
        return
    redis.zrem(running, check_id)
    redis.zrem(starts, check_id)
    if n_running > MAX_RUNNING:
        raise TooManyTests(f"You already have {MAX_RUNNING} connection tests running. Wait for one to finish, "
                           "then press Test connection again.", 20)
    oldest = redis.zrange(starts, 0, 0, withscores=True)
    wait = max(1, int(oldest[0][1] + 60 - now) + 1) if oldest else 60
    raise TooManyTests(f"You started {MAX_STARTS_PER_MINUTE} connection tests in the last minute. Wait "
                       f"{wait} seconds, then press Test connection again.", wait)


def release(redis: Redis, user_id: int, check_id: str) -> None:
    """The test ended (or never got queued): its place among the user's running tests is free."""
    redis.zrem(_user_key(user_id, "running"), check_id)


def new_test(user_id: int, school_id: int, settings: ConnectionSettings) -> ConnectionTest:
    return ConnectionTest(check_id=secrets.token_urlsafe(18), user_id=user_id, school_id=school_id,
                          vendor=settings.vendor, host=", ".join(sorted(credential_origins(settings))),
                          started_at=time.time())


def save(redis: Redis, test: ConnectionTest) -> None:
    redis.set(_key(test.check_id), json.dumps(asdict(test)), ex=RESULT_SECONDS)


def remember_latest(redis: Redis, test: ConnectionTest) -> None:
    """The user's newest test of the school: what Save connection compares its settings with."""
    redis.set(_user_key(test.user_id, f"school:{test.school_id}:latest"), test.check_id, ex=RESULT_SECONDS)


def latest(redis: Redis, user_id: int, school_id: int) -> ConnectionTest | None:
    check_id = redis.get(_user_key(user_id, f"school:{school_id}:latest"))
    test = load(redis, check_id.decode() if isinstance(check_id, bytes) else (check_id or ""))
    return test if test is not None and test.belongs_to(user_id, school_id) else None


def load(redis: Redis, check_id: str) -> ConnectionTest | None:
    """The test, or None when the id is malformed, unknown or expired."""
    if not CHECK_ID.match(check_id or ""):
        return None
    raw = redis.get(_key(check_id))
    return ConnectionTest(**json.loads(raw)) if raw else None


def seal(redis: Redis, box: MultiFernet, test: ConnectionTest, settings: ConnectionSettings) -> None:
    """Keep the settings (with their secret) for the worker, encrypted, for SEALED_SECONDS at most."""
    redis.set(_key(test.check_id, "sealed"), box.encrypt(json.dumps(asdict(settings)).encode()), ex=SEALED_SECONDS)


def queue_sealed(redis: Redis, queue, box: MultiFernet, test, settings: ConnectionSettings, *, save_test, job: str,
                 job_id: str, then=None) -> None:
    """Count the test against its user's limits, store it, seal its settings and queue `job` with only its id.

    Whatever fails after the admission gives the user's slot back, so a Redis hiccup never uses up their tests.
    """
    admit(redis, test.user_id, test.check_id)
    try:
        save_test(redis, test)
        seal(redis, box, test, settings)
        queue.enqueue(job, test.check_id, job_id=job_id, job_timeout=JOB_TIMEOUT, result_ttl=0, failure_ttl=3600)
        if then is not None:
            then(redis, test)
    except Exception:
        release(redis, test.user_id, test.check_id)
        raise


def take_sealed(redis: Redis, box: MultiFernet, check_id: str) -> ConnectionSettings | None:
    """The sealed settings, deleted as they are read (None once expired, taken or unreadable)."""
    pipe = redis.pipeline()  # MULTI/EXEC: GET and DEL at once (GETDEL needs Redis 6.2)
    pipe.get(_key(check_id, "sealed"))
    pipe.delete(_key(check_id, "sealed"))
    token, _ = pipe.execute()
    if not token:
        return None
    try:
        values = json.loads(box.decrypt(token))
    except InvalidToken:  # the portal's keys changed in between
        return None
    return ConnectionSettings(**{**values, "token_urls": tuple(values["token_urls"])})


def audit_detail(host: str, rows: list[CheckRow]) -> str:
    """What the audit log says of a test: the host tested and the score, never a secret."""
    passed = sum(row.status == "ok" for row in rows)
    return f"Connection test of {host}: {passed} of {len(rows)} checks passed."
