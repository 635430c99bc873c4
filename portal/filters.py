"""The Jinja filters every template may use, registered in create_app().

Times, dates and role names come from store.vocabulary, which the report email reads too: one format each.
"""
from datetime import datetime

from flask import Flask

from store.vocabulary import (clock_text, date_text, duration_text, moment_text, role_label, run_kind, status_label,
                              trigger_label)


def school_time(moment: datetime | None, school) -> str:
    """A UTC timestamp as the school's local date and wall-clock time: "Dec 1, 2026, 2:00 AM"."""
    if moment is None:
        return "—"
    return moment_text(moment.astimezone(school.district.zone))


FILTERS = {"school_time": school_time, "duration": duration_text, "status_label": status_label,
           "trigger_label": trigger_label, "run_kind": run_kind, "clock": clock_text, "day": date_text,
           "role_label": role_label}


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(FILTERS)
