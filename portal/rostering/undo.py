"""Undo a sync: preview what reversing one run would do, then apply it (jobs/undo.py does the work)."""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from jobs.runs import SyncAlreadyRunning
from jobs.undo import LEFT_KINDS, UndoNeedsConfirmation, UndoRefused, plan_undo, refusal, undo_sync, undone_by
from store.db import db
from store.models import Person

from ..access import school_required
from . import bp
from .runs import _school_run

LIST_LIMIT = 50


def _names(plan) -> dict[int, str]:
    """Names of the first people the preview lists (one query)."""
    ids = {row["person_id"] for row in plan.log[:LIST_LIMIT]}
    return {pid: " ".join(n for n in (given, family) if n) or f"#{pid}" for pid, given, family in db.session.execute(
        db.select(Person.id, Person.given_name, Person.family_name).where(Person.id.in_(ids)))} if ids else {}


def _preview(school, run, status=200, message=""):
    """The preview page: what the undo would do and leave, or why it cannot be done."""
    reason = refusal(run)
    plan = None if reason else plan_undo(run)
    if plan is not None and not plan.changes_anything and not message:
        reason = "This sync changed nobody's record that can still be put back, so there is nothing to undo."
    context = {"school": school, "run": run, "refusal": reason, "plan": plan, "undo_message": message,
               "left_kinds": LEFT_KINDS, "list_limit": LIST_LIMIT, "names": _names(plan) if plan else {},
               "undone_by": undone_by(run), "guard": plan.guard_sentence() if plan else None}
    return render_template("rostering/undo.html", **context), (409 if reason and status == 200 else status)


@bp.get("/runs/<int:run_id>/undo")
@school_required
def undo_preview(school, run_id):
    """GET changes nothing: it shows the plan and the button that applies it."""
    return _preview(school, _school_run(school, run_id))


@bp.post("/runs/<int:run_id>/undo/apply")
@school_required
def undo_apply(school, run_id):
    run = _school_run(school, run_id)
    try:
        undo = undo_sync(run.id, current_user.id, confirmed=request.form.get("confirm_archive") == "on")
    except UndoNeedsConfirmation as exc:
        return _preview(school, run, 422, str(exc))
    except (UndoRefused, SyncAlreadyRunning) as exc:
        return _preview(school, run, 409, str(exc))
    left = f" {undo.issues:,} changes were left alone: see Record issues below." if undo.issues else ""
    flash(f"Sync #{run.shown_number} undone: {undo.updated:,} people put back, {undo.archived:,} archived.{left}", "success")
    return redirect(url_for("rostering.run_page", slug=school.slug, run_id=undo.id))

