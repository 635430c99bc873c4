"""A Redis lock per school (SET NX EX) so one sync of a school runs at a time, renewed per page."""
from redis import Redis

LOCK_TTL_SECONDS = 600
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def lock_key(school_id: int) -> str:
    return f"portal:sync-lock:school:{school_id}"


class SchoolLock:
    """Held by one run; only the holder can renew or release it, and it expires if the worker dies."""

    def __init__(self, redis: Redis, school_id: int, run_id: int, ttl: int = LOCK_TTL_SECONDS):
        self.redis, self.key, self.token, self.ttl = redis, lock_key(school_id), str(run_id), ttl

    def acquire(self) -> bool:
        return bool(self.redis.set(self.key, self.token, nx=True, ex=self.ttl))

    def renew(self) -> bool:
        """Extend the lease; False means another run took the lock (ours expired)."""
        return bool(self.redis.eval(_RENEW, 1, self.key, self.token, self.ttl))

    def release(self) -> None:
        self.redis.eval(_RELEASE, 1, self.key, self.token)


def lock_holder(redis: Redis, school_id: int) -> int | None:
    """The run id holding the school's lock, if any."""
    value = redis.get(lock_key(school_id))
    return int(value) if value else None
