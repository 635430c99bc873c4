"""How the portal writes a date and a wall-clock time for people: "Dec 1, 2026", "2:00 AM".

One home for both layers: connectors word messages with dates (an expiry, a refused token) and may not import
store, whose vocabulary re-exports these for the pages, the emails and the CLI.
"""
from datetime import date, datetime, time


def clock_text(moment: datetime | time | str | None) -> str:
    """A wall-clock time as every page and email shows it: "2:00 AM" (a "HH:MM" string, time or datetime)."""
    if moment is None or moment == "":
        return "—"
    if isinstance(moment, str):
        try:
            moment = time.fromisoformat(moment)
        except ValueError:
            return moment
    return f"{moment.hour % 12 or 12}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def date_text(day: date | datetime | str | None) -> str:
    """A date as every page and email shows it: "Dec 1, 2026" (a date, datetime or ISO "YYYY-MM-DD")."""
    if day is None or day == "":
        return "—"
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day)
        except ValueError:
            return day
    return f"{day:%b} {day.day}, {day.year}"


def moment_text(moment: datetime | None) -> str:
    """A local date and time: "Dec 1, 2026, 2:00 AM" (the caller converts to the school's zone first)."""
    if moment is None:
        return "—"
    return f"{date_text(moment)}, {clock_text(moment)}"
