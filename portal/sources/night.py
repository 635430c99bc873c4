"""Run tonight's sync now: a District Manager queues the source's night on the worker, as the dispatcher would."""
from flask import flash, make_response, redirect, render_template, url_for
from flask_login import current_user
from redis.exceptions import RedisError

from jobs.district_night import NightAlreadyRunning, night_runs, start_night_now
from jobs.source_bundles import CSV_SOURCE
from store.db import db
from store.models import SourceNight

from ..htmx import is_htmx
from ..status.nights import OUTCOMES
from . import bp
from .access import district_manager_required

QUEUE_DOWN = ("The portal cannot queue the night right now: its job queue (Redis) is not answering. Nothing was "
              "started. Try again in a minute; if it keeps happening, tell the portal's administrator.")


def night_context(district, source, notice: str = "", refusal: str = "") -> dict:
    """The source's newest night (its outcome and each school's run) for the page's night section."""
    night = db.session.scalar(db.select(SourceNight).where(SourceNight.source_id == source.id)
                              .order_by(SourceNight.id.desc()).limit(1))
    return {"district": district, "source": source, "night": night,
            "night_outcome": OUTCOMES.get(night.status, night.status) if night else "",
            "night_runs": night_runs(night.id) if night else [], "night_notice": notice, "night_refusal": refusal}


def _answer(district, source, status, **parts):
    if not is_htmx():
        flash(parts.get("notice") or parts.get("refusal"), "success" if status == 202 else "error")
        return redirect(url_for("sources.show", district_id=district.id, source_id=source.id))
    response = make_response(render_template("sources/_source_night.html",
                                             **night_context(district, source, **parts)), status)
    if status == 503:
        response.headers["Retry-After"] = "60"
    return response


# Its own path: a POST and a GET on one <int:> path answer an id out of the database range with 405, not 404.
@bp.post("/<int:source_id>/night/start")
@district_manager_required
def run_night(district, source):
    """Queue the source's night now (202); 409 while one is queued or running, 503 when the queue is down."""
    if source.method == CSV_SOURCE:  # nothing to read: its page's Sync now runs the newest bundle instead
        return _answer(district, source, 409, refusal="A CSV source has no SIS to read tonight; use Sync the newest "
                                                      "bundle now in its CSV bundles section.")
    try:
        night = start_night_now(source, current_user)
    except NightAlreadyRunning as exc:
        return _answer(district, source, 409, refusal=str(exc))
    except RedisError:
        db.session.rollback()
        return _answer(district, source, 503, refusal=QUEUE_DOWN)
    if not night.schools:
        return _answer(district, source, 202, notice="No school is mapped to this source yet, so nothing will sync: "
                                                     "map schools first.")
    return _answer(district, source, 202, notice=f"Tonight's sync of {night.schools} "
                                                 f"school{'s' if night.schools != 1 else ''} is queued.")


@bp.get("/<int:source_id>/night")
@district_manager_required
def night_state(district, source):
    """The night section, polled by htmx while the night is open."""
    return render_template("sources/_source_night.html", **night_context(district, source))
