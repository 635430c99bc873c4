"""Before Save connection: were these exact settings tested, did the test pass, and what would saving replace?

The answer comes from the user's last connection test of the school (kept ten minutes, see jobs.check_records),
compared by a keyed fingerprint of the settings, so a secret typed again or a changed address counts as a change.
"""
from dataclasses import dataclass

from cryptography.fernet import InvalidToken

from connectors.errors import InvalidSettings
from connectors.profiles import PROFILES
from connectors.settings import ConnectionSettings
from jobs.check_records import ConnectionTest
from jobs.connection import get_connection, settings_for
from jobs.tenants import tenant_source
from store.models import Person, RosterConnection, School

from . import service
from .connection_tests import fingerprint, latest_test

CONFIRM = "untested"  # the value of the "Save anyway" button


@dataclass(frozen=True)
class SaveCheck:
    tested: ConnectionTest | None  # the user's last test, when it ran on exactly these settings
    warning: str                   # why to think twice before saving; "" when saving is safe
    notice: str                    # what the page says once saved


def _saved_print(conn: RosterConnection | None) -> str:
    try:
        return fingerprint(settings_for(conn)) if conn is not None and conn.has_secret else ""
    except (InvalidToken, InvalidSettings, KeyError):
        return ""


def passed_but_unsaved(school: School, test: ConnectionTest | None) -> bool:
    """True when a finished test passed on settings other than the saved ones: the page then says to save them,
    since Preview, Sync now and nightly syncs use only what is saved."""
    if test is None or not test.done or test.failed:
        return False
    conn = get_connection(school)
    return conn is None or (conn.source is None and _saved_print(conn) != test.fingerprint)


def _replaces(conn: RosterConnection) -> str:
    try:
        where = f"{PROFILES[conn.vendor].label}, {service.credential_hosts(settings_for(conn))}"
    except (InvalidToken, InvalidSettings, KeyError):
        where = "the one saved now"
    return (f" Saving replaces the saved connection ({where}) and its secret: the old secret is not kept, and "
            "Sync now and nightly syncs use the new settings from then on.")


def check_save(school: School, conn: RosterConnection | None, settings: ConnectionSettings,
               user: Person) -> SaveCheck:
    """Whether saving `settings` needs the user's confirmation, and what to say once saved."""
    if (conn is not None and conn.source is not None) or tenant_source(school.district_id, settings) is not None:
        # Mapped already, or the district's own tenant: saving is refused with what to do, or shares the source
        # (tested by its District Manager; the notice then comes from rostering.share), never "Save anyway".
        return SaveCheck(None, "", "")
    printed = fingerprint(settings)
    test = latest_test(school, user)
    tested = test if test is not None and test.done and test.fingerprint == printed else None
    if tested is not None and not tested.failed:
        return SaveCheck(tested, "", "Connection saved. Its last test passed.")
    if conn is not None and _saved_print(conn) == printed:
        return SaveCheck(tested, "", "Connection saved (nothing had changed).")
    if tested is not None:
        failing = [row.label for row in tested.checks() if row.fails]
        names = ", ".join(failing[:3]) + (f" and {len(failing) - 3} more" if len(failing) > 3 else "")
        warning = (f"The last test of these settings failed ({len(failing)} check{'s' if len(failing) != 1 else ''}: "
                   f"{names}), so a sync with them would fail too.")
        return SaveCheck(tested, warning + (_replaces(conn) if conn else ""),
                         "Connection saved, although its last test failed: syncs fail until the failed checks pass.")
    if conn is None:
        return SaveCheck(None, "", "Connection saved. It has not been tested yet: press Test connection to check it.")
    return SaveCheck(None, "These settings have not been tested since they were changed." + _replaces(conn),
                     "Connection saved without a test: press Test connection to check it.")
