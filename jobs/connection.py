"""A school's saved SIS connection: loading it, and turning it (with its decrypted secret) into settings.

A school mapped to a district's source resolves to the source's SIS, URLs and secret with the school's own
SIS school id (RosterConnection.credentials), so Sync now, Preview and Test connection work the same for it."""
from cryptography.fernet import InvalidToken
from sqlalchemy.orm import joinedload

from connectors.errors import InvalidSettings
from connectors.netguard import OutboundPolicy
from connectors.profiles import ConnectionSettings, get_profile

from store.db import db
from store.models import RosterConnection, School
from store.secrets import decrypt_secret
from store.vocabulary import ROLE_TOGGLES

from .outbound import outbound_policy

NO_CONNECTION = "This school has no saved SIS connection; save one on the Rostering page first."
_ROLES = [toggle.label for toggle in ROLE_TOGGLES]
NO_ROLES = (f"Nothing started: {', '.join(_ROLES[:-1])} and {_ROLES[-1]} are all unticked in Sync settings, so a "
            "sync would sync nobody. Tick at least one, press Save settings, then try again.")


class NotConfigured(Exception):
    """The school has no saved connection (or no secret) to sync with; the message is for the user."""


def get_connection(school: School | int) -> RosterConnection | None:
    """The school's connection, its source (if mapped) loaded in the same query."""
    school_id = school if isinstance(school, int) else school.id
    return db.session.scalar(db.select(RosterConnection).filter_by(school_id=school_id)
                             .options(joinedload(RosterConnection.source)))


def saved_values(conn: RosterConnection | None) -> dict[str, str]:
    """The profile's form values of a saved connection; the secret is never included."""
    if conn is None:
        return {}
    row = conn.credentials
    return get_profile(row.vendor).from_saved(row, "")


def settings_for(conn: RosterConnection, policy: OutboundPolicy | None = None) -> ConnectionSettings:
    """The saved connection's settings with the secret decrypted (raises InvalidToken, InvalidSettings)."""
    policy = policy or outbound_policy()
    row = conn.credentials
    profile = get_profile(row.vendor)
    # from_saved carries the row's OneRoster version and credentials' expiry date into the settings too.
    return profile.normalise(profile.from_saved(row, decrypt_secret(row.secret_encrypted)),
                             allow_loopback_http=policy.allow_loopback)


def load_settings(conn: RosterConnection | None, policy: OutboundPolicy) -> ConnectionSettings:
    """Settings a run can use, or NotConfigured with what the owner should do."""
    if conn is None or not conn.has_secret:
        raise NotConfigured(NO_CONNECTION)
    try:
        return settings_for(conn, policy)
    except InvalidToken:
        where = ("on the district's Sources page (ask your District Manager)" if conn.source_id
                 else "on the Rostering page")
        raise NotConfigured("The saved SIS secret can no longer be decrypted (the encryption keys changed); "
                            f"enter the secret again {where}.") from None
    except InvalidSettings as exc:
        raise NotConfigured(f"The saved connection is no longer valid: {exc.message}") from None
