"""One vocabulary for the product's own values: the sync toggles, run triggers and run statuses.

The Rostering page, the CLI, the audit log, the sync options and the report email all read these, so a
toggle or a label is added or renamed in one place.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Toggle:
    """A yes/no sync setting: a RosterConnection column, its label on the page and its CLI --flag/--no-flag."""

    column: str
    label: str
    flag: str
    help: str = ""
    role: str = ""  # the role a "who" toggle syncs


WHO_TOGGLES = (
    Toggle("sync_students", "Students", "students", role="student"),
    Toggle("sync_teachers", "Teachers", "teachers", role="teacher"),
    Toggle("sync_staff", "Staff", "staff", role="staff"),
    Toggle("sync_admins", "Admins", "admins", role="school_admin"),
    Toggle("sync_parents", "Include primary parent contact info", "parents"),
)
CHANGE_TOGGLES = (
    Toggle("auto_update", "Auto update", "auto-update",
           "On: people already in the portal get their changed names, emails and grades updated. "
           "Off: they are skipped."),
    Toggle("archive", "Archive", "archive", "On: people who left the SIS roster are archived. Off: they are kept."),
    Toggle("additions_only", "Additions only", "additions-only",
           "On: new people are created, and nobody already in the portal is changed or archived, "
           "whatever Auto update and Archive say."),
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
