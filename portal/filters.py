"""The Jinja filters every template may use, registered in create_app().

Times, dates and role names come from store.vocabulary, which the report email reads too: one format each.
"""
from datetime import datetime, tzinfo

from flask import Flask

from store.vocabulary import (
    SHOWN_COUNTS, action_label, clock_text, date_text, duration_text, field_label, field_value, issue_kind_label,
    moment_text, outcome_label, role_label, run_kind, status_label, trigger_label,
)


def local_time(moment: datetime | None, zone: tzinfo) -> str:
    """A UTC timestamp as the local date and wall-clock time in `zone`: "Dec 1, 2026, 2:00 AM"."""
    if moment is None:
        return "—"
    return moment_text(moment.astimezone(zone))


def school_time(moment: datetime | None, school) -> str:
    """The same in the school's district's time zone."""
    return local_time(moment, school.district.zone)


FILTERS = {"school_time": school_time, "local_time": local_time, "duration": duration_text, "status_label": status_label,
           "trigger_label": trigger_label, "run_kind": run_kind, "field_label": field_label,
           "action_label": action_label, "outcome_label": outcome_label,
           "field_value": field_value, "issue_kind_label": issue_kind_label, "clock": clock_text, "day": date_text,
           "role_label": role_label}


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.globals["shown_counts"] = SHOWN_COUNTS  # the counts a run shows, on every page and the email
