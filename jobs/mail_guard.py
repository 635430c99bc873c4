"""An email after a job is a courtesy: whatever goes wrong while building or sending it is logged and recorded,
and never fails or repeats the sync or the night that asked for it."""
import logging
from collections.abc import Callable

from store.db import db

log = logging.getLogger(__name__)


def never_raise(send: Callable[[], None], what: str, record_not_sent: Callable[[], None]) -> None:
    """Run `send`; on any error log it with `what` (e.g. "report for sync run 7"), drop the half-done session
    and let `record_not_sent` say so on the row the pages read."""
    try:
        send()
    except Exception:  # noqa: BLE001 - see the module docstring
        log.exception("%s could not be built", what)
        db.session.rollback()
        record_not_sent()
