from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError

from store.db import db

from ..access import managed_schools
from ..htmx import is_htmx
from ..status.overview import schedules_notice, school_schedules
from . import bp


@bp.route("/")
@login_required
def index():
    """Owners go straight to their school; district managers pick one of theirs."""
    if not current_user.can_manage_rostering:
        abort(403)
    schools = managed_schools(current_user)
    if current_user.role == "owner" and len(schools) == 1:
        return redirect(url_for("people.index", slug=schools[0].slug))
    rows = school_schedules(schools)
    notice = schedules_notice(rows, schools[0].district.zone) if schools else ""
    return render_template("main/index.html", rows=rows, scheduler_notice=notice)


# Error pages: (status, title, message); each says what happened and what to do.
ERROR_PAGES = (
    (403, "Not allowed", "Your account cannot open this page. Rostering is for school Owners and District Managers."),
    (404, "Not found", "There is no such page, or it is not yours to see."),
    (405, "Not allowed", "That action is not available here."),
    (500, "Something went wrong", "The portal hit an unexpected error. Nothing was changed; please try again."),
)


def error_page(title: str, message: str, status: int):
    return render_template("errors/error.html", title=title, message=message), status


def _register_error_page(status: int, title: str, message: str) -> None:
    def handler(error):
        if status == 500:
            # A database error leaves the request's transaction aborted, so the page's own queries (the signed-in
            # account in the top bar) failed too and the visitor got the server's bare "Internal Server Error".
            # Rolling back also makes "Nothing was changed" true of what the request had not committed.
            db.session.rollback()
        # abort(403, description=...) says what this page is for instead of the general sentence (an owner on a
        # District Manager's page read "Rostering is for school Owners and District Managers")
        told = getattr(error, "description", None)
        default = getattr(type(error), "description", None)
        return error_page(title, told if told and told != default else message, status)
    bp.app_errorhandler(status)(handler)


for _status, _title, _message in ERROR_PAGES:
    _register_error_page(_status, _title, _message)


@bp.app_errorhandler(400)
def bad_request(error):
    return error_page("Request refused", getattr(error, "description", "") or "The request could not be understood.",
                      400)


PAGE_EXPIRED = ("This page was older than your sign-in (you signed in again, perhaps in another tab), so nothing was "
                "done. It has been reloaded: try again.")


@bp.app_errorhandler(CSRFError)
def csrf_failed(error):
    if is_htmx():  # htmx swaps no 400, so the button would seem to do nothing: reload the page with a fresh token
        flash(PAGE_EXPIRED, "error")
        response = make_response("", 400)
        response.headers["HX-Refresh"] = "true"
        return response
    return error_page("Please try again", "This form has expired or did not come from this portal. "
                                          "Reload the page and try again.", 400)
