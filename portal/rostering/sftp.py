"""The SFTP drop's account on the Rostering page (CSV method): create it, set or remove its password (shown once,
stored hashed), paste SSH public keys, remove it; and the details to give the SIS administrator."""
from functools import wraps

from flask import make_response, render_template, request
from flask_login import current_user

from jobs.connection import get_connection

from ..access import school_required
from ..htmx import is_htmx
from ..sftp import accounts
from ..sftp.keys import MAX_TEXT, InvalidKeys
from . import bp
from .routes import _page
from .sftp_view import sftp_view

CSV_METHOD = "oneroster_csv"
CHOOSE_CSV_FIRST = "Choose the OneRoster CSV method and save it first; the SFTP drop is part of that method."
NO_ACCOUNT = "This school has no SFTP account yet: create it first."


def _answer(school, status=200, **view):
    """The account partial (htmx) or the whole page around it; a new password is in this response only."""
    sftp = sftp_view(school, **view)
    if is_htmx():
        return make_response(render_template("rostering/_sftp_account.html", school=school, sftp=sftp), status)
    return make_response(*_page(school, status, sftp=sftp))


def _csv_method(school) -> bool:
    conn = get_connection(school)
    return conn is not None and conn.method == CSV_METHOD and conn.source_id is None  # mapped: the source's account


def account_required(view):
    """Give the view the school's SFTP account; without one, answer 409 with what to do first."""
    @wraps(view)
    def wrapper(school):
        account = accounts.account_of(school)
        if account is None:
            return _answer(school, 409, error=NO_ACCOUNT)
        return view(school, account)
    return wrapper


@bp.post("/sftp/account")
@school_required
def create_sftp_account(school):
    if not _csv_method(school):
        return _answer(school, 409, error=CHOOSE_CSV_FIRST)
    if accounts.account_of(school) is not None:
        return _answer(school, 409, error="This school already has an SFTP account; set a new password below.")
    _, password = accounts.create_account(school, current_user)
    return _answer(school, 201, password=password, notice="SFTP account created.")


@bp.post("/sftp/password")
@school_required
@account_required
def reset_sftp_password(school, account):
    password = accounts.reset_password(account, current_user)
    return _answer(school, password=password, notice="New password set; the old one no longer works.")


@bp.post("/sftp/password/remove")
@school_required
@account_required
def remove_sftp_password(school, account):
    if not account.authorized_keys:
        return _answer(school, 409, error="Add an SSH public key first: without a password or a key the SIS could "
                                          "not sign in.")
    accounts.remove_password(account, current_user)
    return _answer(school, notice="Password removed: the SIS signs in with its SSH key only.")


@bp.post("/sftp/keys")
@school_required
@account_required
def save_sftp_keys(school, account):
    text = request.form.get("authorized_keys", "")
    try:
        keys = accounts.save_keys(account, text, current_user)
    except InvalidKeys as exc:
        typed = "" if "PRIVATE KEY" in text else text[:MAX_TEXT]  # a pasted private key is never sent back
        return _answer(school, 422, keys_text=typed, error=str(exc))
    if not keys and not account.password_hash:
        notice = "Keys removed. The account has no password either: set one so the SIS can sign in."
    else:
        notice = f"{len(keys)} SSH key{'s' if len(keys) != 1 else ''} saved."
    return _answer(school, notice=notice)


@bp.post("/sftp/remove")
@school_required
@account_required
def remove_sftp_account(school, account):
    accounts.remove_account(account, current_user)
    return _answer(school, notice="SFTP account removed; bundles already received are kept below.")
