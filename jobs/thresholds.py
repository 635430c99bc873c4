"""The archive guard in plain words: why a run was held, and when a higher threshold makes sense."""
from collections.abc import Iterable
from datetime import date, timedelta

from connectors.errors import InvalidSettings
from store.models import RosterConnection
from store.vocabulary import date_text

from .hold import ArchiveHold, percent_text  # noqa: F401 - the page's held-run words live beside the guard

SEASON_MONTHS = (7, 8, 9)  # July to September: most schools start their year then
AFTER_PAUSE = timedelta(days=21)
SUGGESTED_PERCENT = 25
DEFAULT_THRESHOLD = RosterConnection.__table__.c.archive_threshold_percent.default.arg  # 10: a connection's own
PERCENT_MESSAGE = "Give a percentage from 0 to 100, e.g. 25, or leave it empty to use the saved threshold."
THRESHOLD_MESSAGE = "Give a percentage from 0 to 100, e.g. 10."
PERCENT_MAX_CHARS = 20  # "12.3456789" needs 10; anything longer is a paste, not a percentage


def archive_hold(run, saved_threshold: float | None, uncounted=()) -> ArchiveHold | None:
    """For a run waiting for review: the numbers, with the threshold the guard applied to it."""
    if run is None or run.status != "needs_review":
        return None
    threshold = next((t for t in (run.archive_threshold_applied, run.archive_threshold_override, saved_threshold)
                      if t is not None), DEFAULT_THRESHOLD)
    return ArchiveHold(run.would_archive, run.rostered_total, threshold, tuple(uncounted))


def back_to_school_reason(today: date, pause_ends: Iterable[date]) -> str | None:
    """Why today looks like the start of a school year (a pause ended lately, or July-September), else None."""
    ended = [end for end in pause_ends if end < today <= end + AFTER_PAUSE]
    if ended:
        return f"Your seasonal pause ended on {date_text(max(ended))}"
    if today.month in SEASON_MONTHS:
        return "It is the start of the school year"
    return None


def parse_percent(value, field: str, message: str) -> float | None:
    """A percentage typed in a form or CLI: None when empty; InvalidSettings({field: message}) unless 0-100."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and (len(value.strip()) > PERCENT_MAX_CHARS or "_" in value):
        # float() would read "2_5" as 25; a long value would have been cut short, not read
        raise InvalidSettings({field: message})
    try:
        percent = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float's range
        raise InvalidSettings({field: message}) from None
    if not 0 <= percent <= 100:  # NaN fails this too
        raise InvalidSettings({field: message})
    return percent + 0.0  # -0.0 becomes 0.0, so nothing says "up to -0%"


def parse_threshold_override(value) -> float | None:
    """A one-run archive threshold (Sync now, --allow-archive): None when empty, which keeps the saved one."""
    return parse_percent(value, "threshold_override", PERCENT_MESSAGE)
