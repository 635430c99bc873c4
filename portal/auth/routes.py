from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from . import bp, sessions, throttle
from .forms import LoginForm
from .service import authenticate, normalise_email

BAD_LOGIN = "Email or password is incorrect."


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths; anything else goes home (no open redirect). A control character (a line break
    decoded from %0D%0A) would fail the redirect's header after the sign-in had already succeeded: a 500."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and target.isprintable() and not urlsplit(target).netloc:
        return target
    return url_for("main.index")


def limit_address() -> None:
    """429 once this address has made too many sign-in, reset or password attempts this minute."""
    if not throttle.address_allowed(request.remote_addr):
        abort(429)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    status, problem = 200, ""
    if form.is_submitted():
        limit_address()
    if form.validate_on_submit():
        email, address = normalise_email(form.email.data), request.remote_addr
        locked = throttle.locked(email, address)  # while locked, even the right password is refused here
        if not locked:
            throttle.slow_down(email)
        person = None if locked else authenticate(email, form.password.data)
        if person is not None:
            throttle.clear(email, address)
            sessions.begin(person, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
        if locked or throttle.record_failure(email, address):
            problem, status = throttle.LOCKED_MESSAGE, 429
        else:
            form.password.errors.append(BAD_LOGIN)
            status = 401
    elif form.is_submitted():
        status = 422
    return render_template("auth/login.html", form=form, problem=problem), status


@bp.post("/logout")
@login_required
def logout():
    sessions.end_this()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))


@bp.app_errorhandler(429)
def too_many_requests(error):
    page = render_template("errors/error.html", title="Too many attempts",
                           message="This network has made too many sign-in attempts in the last minute. "
                                   "Wait a minute, then try again.")
    return page, 429, {"Retry-After": "60"}
