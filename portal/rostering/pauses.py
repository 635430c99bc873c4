"""Seasonal pause routes: add or remove date ranges in which nightly syncs are skipped."""
import unicodedata

from flask import flash, redirect, request, url_for
from flask_login import current_user

from ..access import school_required
from ..roster.blackouts import InvalidBlackout, add_blackout, remove_blackout
from . import bp
from .routes import _page

DATE_FIELDS = {"starts_on": "first day", "ends_on": "last day"}


def _unreadable(form) -> dict[str, str]:
    """What add_blackout would let slip: text after a date (it reads the first 10 characters) and control
    characters in the note (PostgreSQL refuses NUL outright)."""
    errors = {}
    for name, label in DATE_FIELDS.items():
        value = form.get(name, "").strip()
        if len(value) > 10:
            errors[name] = f"Enter the {label} as a date, e.g. 2027-06-10."
    if any(unicodedata.category(c) == "Cc" and not c.isspace() for c in form.get("note", "")):
        errors["note"] = "Remove the control characters from the note; plain text only."
    return errors


@bp.post("/pauses")
@school_required
def add_pause(school):
    form = request.form
    try:
        if errors := _unreadable(form):
            raise InvalidBlackout(errors)
        period = add_blackout(school, form.get("starts_on", ""), form.get("ends_on", ""), form.get("note", ""),
                              current_user)
    except InvalidBlackout as exc:
        return _page(school, 422, pause_errors=exc.errors,
                     pause_values={k: form.get(k, "")[:200] for k in ("starts_on", "ends_on", "note")})
    flash(f"Nightly syncs are paused from {period.starts_on} to {period.ends_on}.", "success")
    return redirect(url_for("rostering.index", slug=school.slug) + "#pause-heading")


@bp.post("/pauses/<int:period_id>/delete")
@school_required
def remove_pause(school, period_id):
    if remove_blackout(school, period_id, current_user):
        flash("The pause was removed; nightly syncs resume on those dates.", "success")
    else:
        flash("That pause no longer exists.", "error")
    return redirect(url_for("rostering.index", slug=school.slug) + "#pause-heading")
