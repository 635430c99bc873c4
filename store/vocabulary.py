"""One vocabulary for the product's own values: roles, the sync toggles, run triggers and statuses, person fields,
times and dates.

The Rostering page, the CLI, the audit log, the sync options and the report email all read these, so a
toggle or a label is added or renamed in one place.
"""
from dataclasses import dataclass

# Dates and times are worded in connectors (whose messages carry dates too and cannot import store); they are part
# of this vocabulary all the same, so every page, email and the CLI import them from here.
from connectors.datetext import clock_text, date_text, moment_text  # noqa: F401 - re-exported

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
                  "cli": "Command line", "received": "CSV bundle received", "undo": "Undo of a sync"}
STATUS_LABELS = {"queued": "Queued", "running": "Running", "succeeded": "Succeeded", "failed": "Failed",
                 "needs_review": "Needs review", "skipped": "Skipped"}


# What each person field is called on every page, in the CSV and in the email (never the column name).
FIELD_LABELS = {
    "role": "Role", "given_name": "First name", "middle_name": "Middle name", "family_name": "Last name",
    "email": "Email", "username": "Username", "sis_id": "SIS id", "grade": "Grade", "phone": "Phone",
    "parent_name": "Parent name", "parent_email": "Parent email", "parent_phone": "Parent phone",
    "status": "Status", "source_id": "SIS record id",
}
# The counts a run shows, in this order, on the progress bar, in the history and in the email.
SHOWN_COUNTS = (("created", "Created"), ("updated", "Updated"), ("skipped", "Skipped"), ("archived", "Archived"),
                ("issues", "Issues"))
ACTION_LABELS = {"create": "Created", "update": "Updated", "link": "Linked to a person added by hand",
                 "archive": "Archived", "skip": "Skipped", "rekey": "Re-keyed (same person, new SIS id)"}
PLANNED_ACTION_LABELS = {"create": "Would create", "update": "Would update",
                         "link": "Would link to a person added by hand", "archive": "Would archive",
                         "skip": "Would skip", "rekey": "Would re-key (same person, new SIS id)"}

# What each kind of record issue is called on the run page, in the CSV and in the email.
ISSUE_KIND_LABELS = {
    "bad_record": "Unreadable record", "duplicate_source_id": "Sent twice by the SIS",
    "possible_duplicate": "Possible duplicate", "sign_in_account": "Matches a sign-in account",
    "ambiguous_link": "Email shared by several people", "archived_here": "Archived here by hand",
    "listing": "How the roster was read", "strays": "People of other schools left out",
    "unreadable_date": "Unreadable date", "value_cleared": "Name or email cleared by the SIS",
    "left_alone": "Left alone by the undo",
}

# Why a sync left someone as they were (jobs/plan.py records one per skipped person).
SKIP_REASONS = {
    "auto_update_off": "Changed in the SIS, but Auto update is off",
    "update_role": "Changed in the SIS, but the sync rules for their role say Auto update never changes them",
    "additions_only": "Already here, and Additions only is on",
    "signs_in": "Can sign in: SIS data never changes an account that signs in",
    "excluded": "Excluded from sync in People",
    "archived_here": "Archived here by hand (restore them in People to sync them again)",
    "archive_off": "Left the SIS roster, but Archive is off",
    "archive_role": "Left the SIS roster, but the sync rules for their role say Archive never removes them",
    "delta": "Left the SIS roster; only a full sync archives",
    "left_before_added": "Marked as leaving in the SIS and never added here",
    "possible_duplicate": "Possible duplicate of someone here (see the record issues)",
    "sign_in_account": "Email matches a sign-in account (see the record issues)",
    "ambiguous_link": "Email shared by several people here (see the record issues)",
}


def skip_reason(reason: str) -> str:
    return SKIP_REASONS.get(reason, reason.replace("_", " ").capitalize())


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


def issue_kind_label(kind: str) -> str:
    return ISSUE_KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def field_value(value: str, name: str) -> str:
    """A stored value as people read it: role and status by their labels, others as they are."""
    if name == "role":
        return ROLE_LABELS.get(value, value)
    if name == "status":
        return value.capitalize()
    return value


def action_label(action: str, planned: bool = False) -> str:
    labels = PLANNED_ACTION_LABELS if planned else ACTION_LABELS
    return labels.get(action, action.capitalize())


def issue_count_text(count: int) -> str:
    return f"{count:,} issue{'s' if count != 1 else ''}"


def outcome_label(status: str, issues: int = 0) -> str:
    """A finished run's status as every page and the email say it: "Succeeded with 2 issues"."""
    label = status_label(status)
    return f"{label} with {issue_count_text(issues)}" if status == "succeeded" and issues else label


def settings_in_words(conn) -> str:
    """The audit log's record of saved sync settings: "Students on, Teachers on, … Automatic Rostering off"."""
    def on(value) -> str:
        return "on" if value else "off"
    toggles = ", ".join(f"{'Parent contacts' if t.column == 'sync_parents' else t.label} {on(getattr(conn, t.column))}"
                        for t in SYNC_TOGGLES)
    source = conn.source if conn.source_id is not None else None
    nightly = (f"nightly at {clock_text(source.sync_time)} with the district source" if source is not None
               else f"nightly at {clock_text(conn.sync_time)}")
    return (f"{toggles}; Automatic Rostering {on(conn.automatic)}, {nightly}; "
            f"archive guard {conn.archive_threshold_percent:g}%.")


def run_kind(trigger: str) -> str:
    """What a run is called on the page: a preview writes nothing, an undo reverses a sync, the rest are syncs."""
    return {"preview": "Preview", "undo": "Undo"}.get(trigger, "Sync")


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
