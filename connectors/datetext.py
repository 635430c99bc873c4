"""How the portal writes a date and a wall-clock time for people: "Dec 1, 2026", "2:00 AM".

One home for both layers: connectors word messages with dates (an expiry, a refused token) and may not import
store, whose vocabulary re-exports these for the pages, the emails and the CLI.
"""
from datetime import date, datetime, time


def clock_text(moment: datetime | time | str | None) -> str:
    """A wall-clock time as every page and email shows it: "2:00 AM" (a "HH:MM" string, time or datetime)."""
    moment = _parsed(moment, time.fromisoformat)
    if isinstance(moment, str):
        return moment
    return f"{moment.hour % 12 or 12}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def date_text(day: date | datetime | str | None) -> str:
    """A date as every page and email shows it: "Dec 1, 2026" (a date, datetime or ISO "YYYY-MM-DD")."""
    day = _parsed(day, date.fromisoformat)
    if isinstance(day, str):
        return day
    return f"{day:%b} {day.day}, {day.year}"


def _parsed(value, parse):
    """An ISO string parsed; a string that does not parse comes back as it is, and nothing as a dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            return parse(value)
        except ValueError:
            return value
    return value


def moment_text(moment: datetime | None) -> str:
    """A local date and time: "Dec 1, 2026, 2:00 AM" (the caller converts to the school's zone first)."""
    if moment is None:
        return "—"
    return f"{date_text(moment)}, {clock_text(moment)}"
