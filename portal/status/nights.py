"""The district overview's district nights: each source's last night, and a manager's choice of night emails."""
from dataclasses import dataclass

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from jobs.digest import report_choice, set_report_choice
from jobs.district_night import night_runs
from store.db import db
from store.models import District, RosterConnection, Source, SourceNight, SyncRun
from store.vocabulary import duration_text

from ..access import managed_schools
from ..htmx import is_htmx
from . import bp
from .overview import local_text

OUTCOMES = {"queued": "Waiting for a worker", "reading": "Reading the SIS", "planning": "Schools syncing",
            "succeeded": "Every school synced", "problems": "Some schools need attention",
            "failed": "The SIS read failed: no school was changed", "skipped": "Skipped"}
CHOICES = (("", "No email"), ("digest", "One digest per night for the whole district"),
           ("each", "Each school's own run report"))


@dataclass(frozen=True)
class SourceNightRow:
    source: Source
    night: SourceNight | None
    outcome: str
    started: str
    duration: str
    runs: list[SyncRun]


def source_nights(district: District, school_ids: set[int] | None = None) -> list[SourceNightRow]:
    """Each source of the district with its newest night (a fixed number of queries per source); with `school_ids`
    (an owner's), only the sources those schools follow and only their runs."""
    query = db.select(Source).filter_by(district_id=district.id).order_by(Source.name)
    if school_ids is not None:
        query = query.where(Source.id.in_(db.select(RosterConnection.source_id)
                                          .where(RosterConnection.school_id.in_(school_ids))))
    sources = db.session.scalars(query).all()
    newest = dict(db.session.execute(db.select(SourceNight.source_id, db.func.max(SourceNight.id))
                                     .where(SourceNight.source_id.in_([s.id for s in sources]))
                                     .group_by(SourceNight.source_id)).all())
    rows = []
    for source in sources:
        night = db.session.get(SourceNight, newest[source.id]) if source.id in newest else None
        if night is None:
            rows.append(SourceNightRow(source, None, "", "", "", []))
            continue
        took = None
        if night.started_at:
            took = ((night.finished_at or night.read_at or night.started_at) - night.started_at).total_seconds()
        rows.append(SourceNightRow(
            source, night, OUTCOMES.get(night.status, night.status),
            local_text(night.started_at.astimezone(district.zone)) if night.started_at else "",
            duration_text(took), [run for run in night_runs(night.id)
                                  if school_ids is None or run.school_id in school_ids]))
    return rows


def nights_context(district: District, saved: bool = False, error: str = "") -> dict:
    # an owner sees the district overview of their own school only: not the other schools of a night
    school_ids = None if current_user.role == "district_manager" else {s.id for s in managed_schools(current_user)}
    return {"district": district, "nights": source_nights(district, school_ids), "choices": CHOICES,
            "choice": report_choice(current_user) if current_user.role == "district_manager" else None,
            "saved": saved, "choice_error": error, "own_schools_only": school_ids is not None}


@bp.post("/districts/<int:district_id>/rostering/night-emails")
@login_required
def night_emails(district_id):
    """A District Manager's own choice of emails after each district night."""
    if current_user.role != "district_manager":
        abort(403)
    district = db.session.get(District, district_id)
    if district is None or current_user.district_id != district_id:
        abort(404)
    try:
        set_report_choice(current_user, request.form.get("night_emails", ""))
    except ValueError as exc:
        return render_template("status/_source_nights.html", **nights_context(district, error=str(exc))), 422
    if not is_htmx():
        return redirect(url_for("status.district", district_id=district_id))
    return render_template("status/_source_nights.html", **nights_context(district, saved=True))
