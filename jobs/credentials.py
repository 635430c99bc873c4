"""The warning about a saved connection's credentials expiring, for the Rostering page and the report email."""
from connectors.expiry import expiry_warning
from connectors.profiles import PROFILES


def credentials_warning(conn) -> str:
    """From 30 days before the saved "Credentials expire on" date, what to renew and where ("" otherwise)."""
    if conn is None or not conn.credentials_expire_on:
        return ""
    profile = PROFILES.get(conn.vendor, PROFILES["oneroster"])
    return expiry_warning(conn.credentials_expire_on, profile.renew_hint)
