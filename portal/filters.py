"""The Jinja filters every template may use, registered in create_app()."""
from datetime import datetime

from flask import Flask

from store.vocabulary import (
    SHOWN_COUNTS, action_label, duration_text, field_label, field_value, issue_kind_label, outcome_label, run_kind, status_label,
    trigger_label,
)


def school_time(moment: datetime | None, school) -> str:
    """A UTC timestamp as the school's local wall-clock time."""
    if moment is None:
        return "—"
    return moment.astimezone(school.district.zone).strftime("%b %-d, %Y %H:%M")


FILTERS = {"school_time": school_time, "duration": duration_text, "status_label": status_label,
           "trigger_label": trigger_label, "run_kind": run_kind, "field_label": field_label,
           "action_label": action_label, "outcome_label": outcome_label,
           "field_value": field_value, "issue_kind_label": issue_kind_label}


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.globals["shown_counts"] = SHOWN_COUNTS  # the counts a run shows, on every page and the email
