from flask import abort, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError

from ..access import managed_schools
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
    return render_template("main/index.html", schools=schools)


@bp.app_errorhandler(403)
def forbidden(error):
    return render_template("errors/error.html", title="Not allowed",
                           message="Your account cannot open this page. Rostering is for school Owners "
                                   "and District Managers."), 403


@bp.app_errorhandler(404)
def not_found(error):
    return render_template("errors/error.html", title="Not found",
                           message="There is no such page, or it is not yours to see."), 404


@bp.app_errorhandler(405)
def method_not_allowed(error):
    return render_template("errors/error.html", title="Not allowed",
                           message="That action is not available here."), 405


@bp.app_errorhandler(400)
def bad_request(error):
    message = getattr(error, "description", "") or "The request could not be understood."
    return render_template("errors/error.html", title="Request refused", message=message), 400


@bp.app_errorhandler(CSRFError)
def csrf_failed(error):
    return render_template("errors/error.html", title="Please try again",
                           message="This form has expired or did not come from this portal. "
                                   "Reload the page and try again."), 400


@bp.app_errorhandler(500)
def server_error(error):
    return render_template("errors/error.html", title="Something went wrong",
                           message="The portal hit an unexpected error. Nothing was changed; please try again."), 500
