"""A Redis lock per school (SET NX EX) so one sync of a school runs at a time, renewed per page.

Redis may restart (or vanish for a while) during a sync. A lock that vanished is taken again at the
next renewal; an unreachable Redis does not stop the run (no other run can start without Redis either);
a lock that another run holds now does stop it, before anything is applied.
"""
import logging
import time

from redis import Redis
from redis.exceptions import RedisError

LOCK_TTL_SECONDS = 600
RENEW_EVERY_SECONDS = 5  # far inside the lease; a Redis round trip per page cost ~1 s of a 100,000-person sync
_RENEW = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end
if not holder then redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1 end
return 0
"""
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_RELEASE_IDLE = """
if redis.call('get', KEYS[1]) == ARGV[1] and redis.call('ttl', KEYS[1]) <= tonumber(ARGV[2]) then
  return redis.call('del', KEYS[1])
end
return 0
"""
log = logging.getLogger(__name__)


class LockLost(Exception):
    """Another run holds the school's lock now, so this one must stop before it applies anything."""


def lock_key(school_id: int) -> str:
    return f"portal:sync-lock:school:{school_id}"


class SchoolLock:
    """Held by one run; only the holder can renew or release it, and it expires if the worker dies."""

    def __init__(self, redis: Redis, school_id: int, run_id: int, ttl: int = LOCK_TTL_SECONDS):
        self.redis, self.key, self.token, self.ttl = redis, lock_key(school_id), str(run_id), ttl
        self.renewed_at = time.monotonic()

    def acquire(self) -> bool:
        return bool(self.redis.set(self.key, self.token, nx=True, ex=self.ttl))

    def renew_if_due(self, every: float = RENEW_EVERY_SECONDS) -> None:
        """Renew when the last renewal (or the lock's making) is over `every` seconds old: called per page of a
        read, far inside the lease."""
        if time.monotonic() - self.renewed_at > every:
            self.renew()

    def renew(self) -> bool:
        """Extend the lease (taking it again if Redis lost it); False if Redis is unreachable right now.

        Raises LockLost when another run holds the lock.
        """
        self.renewed_at = time.monotonic()
        try:
            renewed = self.redis.eval(_RENEW, 1, self.key, self.token, self.ttl)
        except RedisError as exc:
            log.warning("sync lock %s not renewed, Redis is unavailable (%s); the run goes on",
                        self.key, type(exc).__name__)
            return False
        if not renewed:
            raise LockLost("The job queue (Redis) lost this sync's lock and another sync of this school took "
                           "it, so this one stopped before applying anything. The other sync carries on; its "
                           "result shows on the Rostering page, and there is nothing to redo.")
        return True

    def release(self) -> None:
        """Give the lock back; if Redis is unreachable, the lease simply runs out."""
        try:
            self.redis.eval(_RELEASE, 1, self.key, self.token)
        except RedisError as exc:
            log.warning("sync lock %s not released, Redis is unavailable (%s); it expires in %s s",
                        self.key, type(exc).__name__, self.ttl)


def lock_holder(redis: Redis, school_id: int) -> int | None:
    """The run id holding the school's lock, if any."""
    value = redis.get(lock_key(school_id))
    return int(value) if value else None


def release_if_idle(redis: Redis, school_id: int, run_id: int, idle_seconds: int) -> bool:
    """Free a dead run's lock at once instead of when its lease runs out: only that run's, and only if it has not
    been renewed for `idle_seconds` either (a run still renewing it is alive, whatever its heartbeat says)."""
    try:
        return bool(redis.eval(_RELEASE_IDLE, 1, lock_key(school_id), str(run_id), LOCK_TTL_SECONDS - idle_seconds))
    except RedisError as exc:
        log.warning("sync lock of school %s not freed, Redis is unavailable (%s); its lease runs out",
                    school_id, type(exc).__name__)
        return False
