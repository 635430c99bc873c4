"""Sync runs: start, live progress, review, history, the run page and its issues as CSV."""
import csv
import io

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from connectors.errors import InvalidSettings
from jobs.connection import NotConfigured, get_connection
from jobs.runs import SyncAlreadyRunning, approve_run, discard_run, start_sync
from jobs.thresholds import PERCENT_MAX_CHARS
from jobs.undo import undo_context
from store.db import db
from store.models import SyncChange, SyncIssue, SyncRun
from jobs.people_refs import people_by_source
from store.vocabulary import issue_kind_label, run_kind

from ..access import school_required
from ..htmx import is_htmx, retarget, trigger
from ..paging import page_number
from . import bp
from .chart_data import chart_context
from .context import history_context, latest_run, run_context
from .changes import page_refs, skipped_people
from .routes import _page
from .spreadsheet import safe_cell

STARTABLE = ("manual", "preview")  # the triggers the page offers: Sync now and Preview
RUN_PAGE_SIZE = 100
CSV_CHUNK = 1000


def _school_run(school, run_id: int) -> SyncRun:
    """A run of this school; another school's run id is 404 like any unknown one."""
    run = db.session.scalar(db.select(SyncRun).where(SyncRun.id == run_id, SyncRun.school_id == school.id))
    if run is None:
        abort(404)
    return run


def _progress(school, run, status=200, notice=""):
    """The progress/outcome fragment; a final one tells the history table to refresh."""
    on_run_page = request.values.get("on") == "run"  # polled from the run's own page: no link to itself
    response = make_response(render_template("rostering/_run_progress.html", school=school, run_notice=notice,
                                             on_run_page=on_run_page, **run_context(run)), status)
    if run is not None and (run.is_final or request.method == "POST"):
        trigger(response, "runs-changed")
    return response


def _back_to_page(school):
    return redirect(url_for("rostering.index", slug=school.slug))


def _refused(school, run, message):
    """409: say why nothing started, next to the run that is in the way (or the latest one)."""
    if not is_htmx():
        flash(message, "error")
        return _back_to_page(school)
    return _progress(school, run or latest_run(school), 409, message)


def _sync_now_form(school, value="", error="", oob=False) -> str:
    return render_template("rostering/_sync_now.html", school=school, conn=get_connection(school),
                           override_value=value, override_error=error, oob=oob)


def _invalid_override(school, value, errors):
    """422 with the Sync now form re-rendered, the message next to the one-run threshold field."""
    error = errors.get("threshold_override", " ".join(errors.values()))
    if not is_htmx():
        return _page(school, 422, override_value=value, override_error=error)
    return retarget(make_response(_sync_now_form(school, value, error), 422), "#sync-now")


@bp.post("/runs")
@school_required
def start(school):
    """Sync now or Preview: enqueue the job; a second start while one runs is refused with 409."""
    trigger = request.form.get("trigger", "manual")
    if trigger not in STARTABLE:
        abort(400)
    override = request.form.get("threshold_override", "").strip()  # the service refuses a long one, never cuts it
    try:
        run = start_sync(school, trigger=trigger, actor=current_user, threshold_override=override)
    except SyncAlreadyRunning as exc:
        return _refused(school, exc.run, str(exc))
    except NotConfigured as exc:
        return _refused(school, None, str(exc))
    except InvalidSettings as exc:
        return _invalid_override(school, override[:PERCENT_MAX_CHARS], exc.errors)
    once = "" if run.archive_threshold_override is None else \
        f" For this run only, it may archive up to {run.archive_threshold_override:g}% of rostered people."
    if not is_htmx():
        flash(f"{run_kind(trigger)} started.{once}", "success")
        return _back_to_page(school)
    response = _progress(school, run)
    if once:  # empty the one-run field again, so the next Sync now uses the saved threshold
        response.set_data(response.get_data(as_text=True) + _sync_now_form(school, oob=True))
    return response


@bp.get("/runs/<int:run_id>/progress")
@school_required
def progress(school, run_id):
    """Polled every second while the run is active; the final fragment carries no hx-trigger."""
    return _progress(school, _school_run(school, run_id))


def _review(school, run_id, decide, done: str):
    """Approve or discard a run the archive guard stopped; any other run is refused with 409."""
    run = _school_run(school, run_id)
    try:
        run = decide(run, current_user)
    except SyncAlreadyRunning as exc:
        return _refused(school, exc.run, str(exc))
    except ValueError as exc:
        return _refused(school, run, str(exc))
    if not is_htmx():
        flash(done, "success")
        return _back_to_page(school)
    response = make_response(_progress(school, run))
    if request.form.get("on") == "run":  # the run's own page: its header, facts and change log change too
        response.headers["HX-Refresh"] = "true"
    return response


@bp.post("/runs/<int:run_id>/approve")
@school_required
def approve(school, run_id):
    return _review(school, run_id, approve_run, "Approved: the sync runs again and archives those people.")


@bp.post("/runs/<int:run_id>/discard")
@school_required
def discard(school, run_id):
    return _review(school, run_id, discard_run, "Discarded: nothing was changed.")


@bp.get("/runs")
@school_required
def history(school):
    return render_template("rostering/_history.html", **history_context(school, page_number(request.args)))


@bp.get("/runs/chart")
@school_required
def history_chart(school):
    """The history chart alone, for the page's refresh after a run."""
    return render_template("rostering/_history_glance.html", **chart_context(school))


@bp.get("/runs/<int:run_id>")
@school_required
def run_page(school, run_id):
    """One run: summary, per-record issues and the change log, each paginated."""
    run = _school_run(school, run_id)
    issues = db.paginate(db.select(SyncIssue).where(SyncIssue.run_id == run.id).order_by(SyncIssue.id),
                         page=page_number(request.args, "issues_page"), per_page=RUN_PAGE_SIZE, error_out=False)
    changes = db.paginate(db.select(SyncChange).where(SyncChange.run_id == run.id, SyncChange.action != "skip")
                          .order_by(SyncChange.id),
                          page=page_number(request.args, "changes_page"), per_page=RUN_PAGE_SIZE, error_out=False)
    return render_template("rostering/run.html", school=school, issues=issues, changes=changes,
                           skips=skipped_people(run, page_number(request.args, "skips_page"), RUN_PAGE_SIZE),
                           refs=page_refs(school, issues.items, changes.items), **run_context(run),
                           **undo_context(run))


@bp.get("/runs/<int:run_id>/issues.csv")
@school_required
def issues_csv(school, run_id):
    run = _school_run(school, run_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Run", "Name", "Role", "SIS record id", "Problem", "What happened"])
    query = db.select(SyncIssue).where(SyncIssue.run_id == run.id).order_by(SyncIssue.id)
    for chunk in db.session.scalars(query.execution_options(yield_per=CSV_CHUNK)).partitions():
        refs = people_by_source(school.id, (issue.source_id for issue in chunk))  # one query per chunk
        for issue in chunk:
            ref = refs.get(issue.source_id)
            cells = (ref.name if ref else "", ref.role_label if ref else "", issue.source_id,
                     issue_kind_label(issue.kind), issue.message)
            writer.writerow([f"#{run.shown_number}"] + [safe_cell(v) for v in cells])
    response = make_response(out.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{school.slug}-run-{run.shown_number}-issues.csv"'
    return response
