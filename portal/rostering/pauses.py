"""Seasonal pause routes: add or remove date ranges in which nightly syncs are skipped."""
from flask import flash, redirect, request, url_for
from flask_login import current_user

from store.vocabulary import date_text

from ..access import school_required
from . import bp
from .blackouts import InvalidBlackout, add_blackout, remove_blackout
from .routes import _page


@bp.post("/pauses")
@school_required
def add_pause(school):
    form = request.form
    try:
        period = add_blackout(school, form.get("starts_on", ""), form.get("ends_on", ""), form.get("note", ""),
                              current_user)
    except InvalidBlackout as exc:
        return _page(school, 422, pause_errors=exc.errors,
                     pause_values={k: form.get(k, "")[:200] for k in ("starts_on", "ends_on", "note")})
    flash(f"Nightly syncs are paused from {date_text(period.starts_on)} to {date_text(period.ends_on)}.", "success")
    return redirect(url_for("rostering.index", slug=school.slug) + "#pause-heading")


@bp.post("/pauses/<int:period_id>/delete")
@school_required
def remove_pause(school, period_id):
    if remove_blackout(school, period_id, current_user):
        flash("The pause was removed; nightly syncs resume on those dates.", "success")
    else:
        flash("That pause no longer exists.", "error")
    return redirect(url_for("rostering.index", slug=school.slug) + "#pause-heading")
