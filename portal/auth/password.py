"""Password change (signed in) and password reset (by emailed link)."""
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_login.config import COOKIE_NAME

from . import bp, sessions, throttle
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


def _change(form: PasswordChangeForm, person, email: str, address: str | None) -> tuple[str, int]:
    """Check the current password and store the new one; the problem to show and the status."""
    if not person.check_password(form.current_password.data):
        if throttle.record_failure(email, address):
            return throttle.LOCKED_MESSAGE, 429
        form.current_password.errors.append(WRONG_CURRENT)
        return "", 422
    if form.new_password.data == form.current_password.data:
        form.new_password.errors.append("Choose a password different from your current one.")
        return "", 422
    if not _new_password_ok(form, email):
        return "", 422
    set_new_password(person, form.new_password.data)
    # Every session ended with the old password: start a new one here so only the others end.
    remember = current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies
    sessions.begin(person, remember=remember)
    return "", 302


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    status, problem = 200, ""
    if form.is_submitted():
        limit_address()
    if form.validate_on_submit():
        person = current_user._get_current_object()
        email, address = person.email, request.remote_addr
        if throttle.locked(email, address):
            problem, status = throttle.LOCKED_MESSAGE, 429
        else:
            throttle.slow_down(email)
            problem, status = _change(form, person, email, address)
            if status == 302:
                flash("Your password is changed. Any other devices signed in to your account were signed out.")
                return redirect(url_for("main.index"))
    elif form.is_submitted():
        status = 422
    return render_template("auth/change_password.html", form=form, problem=problem), status


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    """End every session of this account, on every device, this one included."""
    ended = sessions.end_everywhere(current_user._get_current_object())
    flash(f"You are signed out on every device ({ended} signed-in session{'' if ended == 1 else 's'} ended). "
          "Sign in again to continue.")
    return redirect(url_for("auth.login"))


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
        throttle.clear(person.email, request.remote_addr)
        flash("Your password is set. Sign in with your new password.")
        return redirect(url_for("auth.login"))
    if form.is_submitted():
        status = 422
    return render_template("auth/reset_password.html", form=form, email=person.email), status
