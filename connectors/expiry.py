"""Credentials that expire: a warning from 30 days before, and a 401 after the date worded as "probably expired".

Infinite Campus gives each OneRoster Provisioning record a Token Expiration Date that districts may change
(help.otus.com/en/articles/4201366-infinite-campus-api-configuration: "Modify Token Expiration Date if need be").
"Do not exceed 13 months from the current date" is a vendor's instruction for that date
(help.eduready360.com/en/integrations/infinite-campus-sis-integration-guide), not Campus' own page: the Campus profile
refuses a date further ahead (connectors.profiles.base.read_expiry), nothing here depends on it.
"""
from datetime import date, datetime, timezone

from .datetext import date_text

WARN_DAYS = 30


def today() -> date:
    return datetime.now(timezone.utc).date()


def as_date(value: date | str | None) -> date | None:
    """A date from a date or an ISO string ("" or unreadable: None, i.e. no expiry known)."""
    if isinstance(value, date) or value is None:
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def expiry_warning(expires_on: date | str | None, renew_hint: str, on: date | None = None) -> str:
    """A sentence for the page and the report from WARN_DAYS before the date ("" otherwise)."""
    expires_on = as_date(expires_on)
    if expires_on is None:
        return ""
    left = (expires_on - (on or today())).days
    if left > WARN_DAYS:
        return ""
    if left < 0:
        return (f"The SIS credentials expired on {date_text(expires_on)}; syncs will fail until they are "
                f"renewed. {renew_hint}")
    when = "today" if left == 0 else f"in {left} day{'s' if left != 1 else ''}"
    return f"The SIS credentials expire on {date_text(expires_on)} ({when}). {renew_hint}"


def refused_hint(expires_on: date | str | None, credentials_hint: str, renew_hint: str,
                 on: date | None = None) -> str:
    """What to say after a 401: past the expiry date the credentials have probably expired."""
    expires_on = as_date(expires_on)
    if expires_on is not None and (on or today()) > expires_on:
        return (f"The credentials have probably expired: they were due to expire on {date_text(expires_on)}. "
                f"{renew_hint}")
    return credentials_hint
