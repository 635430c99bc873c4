"""The Rostering page: SIS connection, connection test and sync settings (thin views over the service)."""
from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from redis.exceptions import RedisError

from connectors.errors import InvalidSettings
from jobs.check_records import TooManyTests
from jobs.connection import get_connection
from store.db import db

from ..access import school_required
from ..htmx import full_reload, is_htmx, retarget
from . import bp, connection_tests, save_check, service, share
from .context import connection_context, page_context, settings_context
from .forms import (chosen_vendor, connection_values, role_rule_values, switched_vendor_values,
                    sync_settings_values)

QUEUE_DOWN = ("The portal cannot start a connection test right now: its job queue (Redis) is not answering. "
              "Try again in a minute; if it keeps happening, tell the portal's administrator.")


def _page(school, status=200, **parts):
    return render_template("rostering/index.html", **page_context(school, **parts)), status


@bp.get("")
@school_required
def index(school):
    """The page; `?method=` is the Method menu without JavaScript; `?test=<id>` shows that connection test's
    result (kept visible after Save connection)."""
    chosen = request.args.get("method")
    if chosen == "oneroster_csv":
        return _page(school, csv_form={})
    if chosen == "oneroster":
        return _page(school, method="oneroster")
    test = connection_tests.test_of(request.args.get("test", "")[:100], school, current_user)
    if test is None:
        return _page(school)
    return _page(school, connection_test=test, checks=test.checks() if test.done else None)


@bp.get("/vendor-fields")
@school_required
def vendor_fields(school):
    """The chosen SIS's empty fields (its saved values if it is the saved SIS): nothing typed for another SIS
    carries over. With `prefill` (the Campus URL as typed) the typed values come back with App Name filled in."""
    vendor, conn = chosen_vendor(request.args), get_connection(school)
    values = switched_vendor_values(request.args, vendor, conn.vendor if conn else None)
    context = connection_context(school, conn, vendor=vendor, values=values)
    return render_template("rostering/_vendor_fields.html", **context)


def _connection_form(school, status, vendor, values, *, errors=None, warning=""):
    """The form again with what to fix or confirm; the typed secret is never sent back: htmx keeps it in the
    browser's own field (hx-preserve), a page without JavaScript asks for it again."""
    typed_secret = bool(values.get("client_secret", "").strip())
    values = {k: v for k, v in values.items() if k != "client_secret"}
    parts = {"vendor": vendor, "values": values, "errors": errors, "warning": warning,
             "secret_typed": typed_secret, "secret_kept": typed_secret and is_htmx()}
    if not is_htmx():
        return _page(school, status, connection=parts)
    context = connection_context(school, get_connection(school), **parts)
    return retarget(make_response(render_template("rostering/_connection_form.html", **context), status),
                    "#connection-form")


def _invalid_connection(school, vendor, values, errors):
    """422 with the form re-rendered next to each field."""
    return _connection_form(school, 422, vendor, values, errors=errors)


@bp.post("/connection")
@school_required
def save_connection(school):
    """Save, unless the settings failed their last test or replace a saved connection untested: then 409 with
    what saving would do and a Save anyway button."""
    vendor = chosen_vendor(request.form)
    values = connection_values(request.form, vendor)
    conn = get_connection(school)
    try:
        settings = service.validate_connection(school, vendor, values, existing=conn)
        check = save_check.check_save(school, conn, settings, current_user)
        if check.warning and request.form.get("confirm") != save_check.CONFIRM:
            return _connection_form(school, 409, vendor, values, warning=check.warning)
        saved = service.save_connection(school, vendor, values, current_user)
    except InvalidSettings as exc:
        return _invalid_connection(school, vendor, values, exc.errors)
    test_id = check.tested.check_id if check.tested else None
    if saved.source is not None:  # it shares the district's source: the page shows the mapping, not the form
        flash(share.joined_notice(saved), "success")
        target = url_for("rostering.index", slug=school.slug)
        return full_reload(make_response("", 204), target) if is_htmx() else redirect(target)
    if is_htmx() and conn is not None:
        # Only the form is swapped: an unsaved edit in Sync settings survives, and the test result stays.
        context = connection_context(school, get_connection(school), notice=check.notice)
        return render_template("rostering/_connection_form.html", **context)
    flash(check.notice, "success")
    target = url_for("rostering.index", slug=school.slug, test=test_id)
    if is_htmx():  # the first save: a full reload shows the settings and sync sections a connection needs
        return full_reload(make_response("", 204), target)
    return redirect(target)


@bp.post("/connection/test")
@school_required
def test_connection(school):
    """Queue the connector's checklist on the values in the form (saved or not); the page polls for it."""
    vendor = chosen_vendor(request.form)
    values = connection_values(request.form, vendor)
    try:
        test = connection_tests.start_test(school, vendor, values, current_user)
    except InvalidSettings as exc:
        return _invalid_connection(school, vendor, values, exc.errors)
    except TooManyTests as exc:
        return _test_outcome(school, 429, vendor, values, refusal=exc.message, retry_after=exc.retry_after)
    except RedisError:
        return _test_outcome(school, 503, vendor, values, refusal=QUEUE_DOWN, retry_after=60)
    return _test_outcome(school, 202, vendor, values, test=test)


@bp.get("/connection/test/<check_id>")
@school_required
def connection_test_result(school, check_id):
    """The test's state: polled by htmx until the checklist is in, or opened as a page without JavaScript."""
    test = connection_tests.test_of(check_id[:100], school, current_user)
    if test is None:
        abort(404)
    return _test_outcome(school, 200, test=test)


def _test_outcome(school, status, vendor=None, values=None, *, test=None, refusal="", retry_after=None):
    """The connection-test area (htmx) or the whole page with it (typed values kept, never the secret)."""
    parts = {"connection_test": test, "checks": test.checks() if test and test.done else None,
             "test_refusal": refusal, "unsaved": save_check.passed_but_unsaved(school, test)}
    if is_htmx():
        # Focus follows the button press to "Testing…", then to the result; polls in between leave focus alone.
        parts["focus_result"] = request.method == "POST" or not (test and test.waiting)
        response = make_response(render_template("rostering/_connection_test.html", school=school, **parts), status)
    else:
        if vendor is not None:
            parts["connection"] = {"vendor": vendor, "values": {k: v for k, v in values.items() if k != "client_secret"},
                                   "secret_typed": bool(values.get("client_secret", "").strip())}
        response = make_response(*_page(school, status, **parts))
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@bp.post("/settings")
@school_required
def save_settings(school):
    conn = get_connection(school)
    if conn is None:
        flash("Save the SIS connection first.", "error")
        return redirect(url_for("rostering.index", slug=school.slug))
    values = sync_settings_values(request.form)
    rules = role_rule_values(request.form)
    try:
        service.save_sync_settings(conn, actor=current_user, **values)
    except InvalidSettings as exc:
        if not is_htmx():
            return _page(school, 422, settings={"values": values, "errors": exc.errors, "rules": rules})
        context = settings_context(school, conn, values=values, errors=exc.errors, rules=rules)
        return render_template("rostering/_sync_settings.html", **context), 422
    if rules is not None:
        service.save_all_role_rules(conn, actor=current_user, **rules)
    if current_user.role == "owner":  # the email report goes to owners who opted in themselves
        current_user.sync_report_opt_in = request.form.get("report_opt_in") == "on"
        db.session.commit()
    if not is_htmx():
        flash("Sync settings saved.", "success")
        return redirect(url_for("rostering.index", slug=school.slug))
    return render_template("rostering/_sync_settings.html",
                           **settings_context(school, conn, notice="Sync settings saved."))
