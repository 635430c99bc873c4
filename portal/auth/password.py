"""Password change (signed in) and password reset (by emailed link)."""
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user
from flask_login.config import COOKIE_NAME

from . import bp, throttle
from .forms import NewPasswordForm, PasswordChangeForm, ResetRequestForm
from .reset import SENT_MESSAGE, person_for_token, request_reset_email
from .routes import limit_address
from .service import password_problem, set_new_password

WRONG_CURRENT = "Your current password is incorrect."
NOT_QUEUED = ("We could not send the email just now: a service the portal needs is not answering. "
              "Try again in a few minutes; if it keeps happening, tell your district IT team.")
BAD_LINK = "This reset link has expired or was already used. Ask for a new one below."


def _new_password_ok(form: NewPasswordForm, email: str) -> bool:
    problem = password_problem(form.new_password.data, email)
    if problem:
        form.new_password.errors.append(problem)
    return problem is None


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    status, problem = 200, ""
    if form.is_submitted():
        limit_address()
    if form.validate_on_submit():
        person = current_user._get_current_object()
        email = person.email
        if throttle.account_locked(email):
            problem, status = throttle.LOCKED_MESSAGE, 429
        elif not person.check_password(form.current_password.data):
            if throttle.record_failure(email):
                problem, status = throttle.LOCKED_MESSAGE, 429
            else:
                form.current_password.errors.append(WRONG_CURRENT)
                status = 422
        elif form.new_password.data == form.current_password.data:
            form.new_password.errors.append("Choose a password different from your current one.")
            status = 422
        elif _new_password_ok(form, email):
            set_new_password(person, form.new_password.data)
            # The session token rotated: sign this session in again so only the others end.
            remember = current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies
            login_user(person, remember=remember)
            flash("Your password is changed. Any other devices signed in to your account were signed out.")
            return redirect(url_for("main.index"))
        else:
            status = 422
    elif form.is_submitted():
        status = 422
    return render_template("auth/change_password.html", form=form, problem=problem), status


@bp.route("/reset", methods=["GET", "POST"])
def request_reset():
    form = ResetRequestForm()
    if form.is_submitted():
        limit_address()
    if form.validate_on_submit():
        if request_reset_email(form.email.data):
            flash(SENT_MESSAGE)
            return redirect(url_for("auth.login"))
        return render_template("auth/reset_request.html", form=form, problem=NOT_QUEUED), 503
    status = 422 if form.is_submitted() else 200
    return render_template("auth/reset_request.html", form=form), status


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token):
    if request.method == "POST":
        limit_address()
    person = person_for_token(token)
    if person is None:
        return render_template("auth/reset_request.html", form=ResetRequestForm(formdata=None),
                               problem=BAD_LINK), 400
    form = NewPasswordForm()
    status = 200
    if form.validate_on_submit() and _new_password_ok(form, person.email):
        set_new_password(person, form.new_password.data)
        throttle.clear_account(person.email)
        flash("Your password is set. Sign in with your new password.")
        return redirect(url_for("auth.login"))
    if form.is_submitted():
        status = 422
    return render_template("auth/reset_password.html", form=form, email=person.email), status
