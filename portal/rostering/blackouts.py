"""Seasonal pause: date ranges in which nightly syncs of a school are skipped (e.g. around year end)."""
import unicodedata
from datetime import date, timedelta

from store.db import db
from store.models import AuditEvent, BlackoutPeriod, Person, School
from store.vocabulary import date_text

MAX_SPAN = timedelta(days=366)


class InvalidBlackout(ValueError):
    """The message names the field and what to type instead."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _parse(value: str, label: str, errors: dict, key: str) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())  # the whole value: "2027-06-10<script>" is not a date
    except ValueError:
        errors[key] = f"Enter the {label} as a date, e.g. 2027-06-10."
        return None


def add_blackout(school: School, starts_on: str, ends_on: str, note: str, actor: Person | None) -> BlackoutPeriod:
    errors: dict[str, str] = {}
    start = _parse(starts_on, "first day", errors, "starts_on")
    end = _parse(ends_on, "last day", errors, "ends_on")
    note = " ".join((note or "").split())
    if len(note) > 200:
        errors["note"] = "Keep the note under 200 characters."
    elif any(unicodedata.category(c) == "Cc" for c in note):  # PostgreSQL refuses a NUL outright
        errors["note"] = "Remove the control characters from the note; plain text only."
    if start and end and end < start:
        errors["ends_on"] = "The last day must be on or after the first day."
    elif start and end and end - start > MAX_SPAN:
        errors["ends_on"] = "A pause can last at most a year; add another one for the next year."
    if errors:
        raise InvalidBlackout(errors)
    period = BlackoutPeriod(school_id=school.id, starts_on=start, ends_on=end, note=note)
    db.session.add(period)
    AuditEvent.record(school, actor, "blackout_added",
                      f"Nightly syncs paused {date_text(start)} to {date_text(end)}" + (f" ({note})" if note else ""))
    db.session.commit()
    return period


def remove_blackout(school: School, period_id: int, actor: Person | None) -> bool:
    period = db.session.get(BlackoutPeriod, period_id)
    if period is None or period.school_id != school.id:
        return False
    db.session.delete(period)
    AuditEvent.record(school, actor, "blackout_removed", f"Pause {date_text(period.starts_on)} to {date_text(period.ends_on)} removed")
    db.session.commit()
    return True


def list_blackouts(school: School) -> list[BlackoutPeriod]:
    return list(db.session.scalars(db.select(BlackoutPeriod).where(BlackoutPeriod.school_id == school.id)
                                   .order_by(BlackoutPeriod.starts_on)))
