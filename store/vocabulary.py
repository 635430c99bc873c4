"""One vocabulary for the product's own values: roles, the sync toggles, run triggers and statuses, times and dates.

The Rostering page, the CLI, the audit log, the sync options and the report email all read these, so a
toggle or a label is added or renamed in one place.
"""
from dataclasses import dataclass
from datetime import date, datetime, time

# One name per role, everywhere (People, the sync settings, rules, the top bar, emails): singular and plural.
ROLE_LABELS = {
    "student": "Student", "teacher": "Teacher", "staff": "Staff", "school_admin": "School admin",
    "owner": "Owner", "district_manager": "District manager",
}
ROLE_PLURALS = {
    "student": "Students", "teacher": "Teachers", "staff": "Staff", "school_admin": "School admins",
    "owner": "Owners", "district_manager": "District managers",
}


@dataclass(frozen=True)
class Toggle:
    """A yes/no sync setting: a RosterConnection column, its label on the page and its CLI --flag/--no-flag."""

    column: str
    label: str
    flag: str
    help: str = ""
    role: str = ""  # the role a "who" toggle syncs


WHO_TOGGLES = (
    Toggle("sync_students", ROLE_PLURALS["student"], "students", role="student"),
    Toggle("sync_teachers", ROLE_PLURALS["teacher"], "teachers", role="teacher"),
    Toggle("sync_staff", ROLE_PLURALS["staff"], "staff", role="staff"),
    Toggle("sync_admins", ROLE_PLURALS["school_admin"], "admins", role="school_admin"),
    Toggle("sync_parents", "Include primary parent contact info", "parents"),
)
CHANGE_TOGGLES = (
    Toggle("auto_update", "Auto update", "auto-update",
           "On: people already in the portal get their changed names, emails and grades updated. "
           "Off: they are skipped (Preview still shows what changed)."),
    Toggle("archive", "Archive", "archive", "On: people who left the SIS roster are archived. Off: they are kept."),
    Toggle("additions_only", "Additions only", "additions-only",
           "On: new people are created and nobody already in the portal is changed or archived; this is "
           "Auto update and Archive both off in one switch, so it cannot be on with either of them."),
)
SYNC_TOGGLES = WHO_TOGGLES + CHANGE_TOGGLES
ROLE_TOGGLES = tuple(t for t in WHO_TOGGLES if t.role)

TRIGGERS = ("manual", "preview", "nightly", "cli", "received")
TRIGGER_LABELS = {"manual": "Sync now", "preview": "Preview", "nightly": "Nightly (Automatic Rostering)",
                  "cli": "Command line", "received": "CSV bundle received"}
STATUS_LABELS = {"queued": "Queued", "running": "Running", "succeeded": "Succeeded", "failed": "Failed",
                 "needs_review": "Needs review", "skipped": "Skipped"}


def run_kind(trigger: str) -> str:
    """What a run is called on the page: a preview writes nothing, every other trigger is a sync."""
    return "Preview" if trigger == "preview" else "Sync"


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def trigger_label(trigger: str) -> str:
    return TRIGGER_LABELS.get(trigger, trigger.capitalize())


def duration_text(seconds: float | None) -> str:
    """A run's duration as the page and the report email show it: "42 s", "3 min 07 s", or "—"."""
    if seconds is None:
        return "—"
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def role_label(role: str, plural: bool = False) -> str:
    """A role as people read it: "School admin" (or "School admins")."""
    labels = ROLE_PLURALS if plural else ROLE_LABELS
    return labels.get(role, role.replace("_", " ").capitalize())


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
