"""The warning about a saved connection's credentials expiring, for the Rostering page and the report email."""
from connectors.expiry import expiry_warning
from connectors.profiles import PROFILES


def credentials_warning(conn) -> str:
    """From 30 days before the saved "Credentials expire on" date, what to renew and where ("" otherwise)."""
    row = conn.credentials if conn is not None else None  # a mapped school: its district source's credentials
    if row is None or not row.credentials_expire_on:
        return ""
    profile = PROFILES.get(row.vendor, PROFILES["oneroster"])
    return expiry_warning(row.credentials_expire_on, profile.renew_hint)
