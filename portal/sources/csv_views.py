"""A district CSV source's page parts: its form, the upload, the bundles it received (report and download), the
newest bundle synced now, and its SFTP account. The school's CSV partials are reused with the source's URLs."""
from functools import wraps

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from connectors.errors import InvalidSettings
from jobs.bundle_files import latest_usable_bundle
from jobs.district_night import NightAlreadyRunning
from jobs.source_bundles import mapped_csv_connections, sync_source_bundle
from store.db import db
from store.models import Source

from ..htmx import full_reload, is_htmx, retarget
from ..rostering.bundles import bundle_download, owned_bundle, report_download
from ..rostering.csv_method import MAX_UPLOAD_MB, UploadRefused
from ..rostering.sftp import NO_ACCOUNT
from ..rostering.sftp_view import sftp_view
from ..sftp import accounts
from ..sftp.keys import MAX_TEXT, InvalidKeys
from . import bp
from .access import district_manager_required
from .context import form_context
from .csv_source import FORM_METHOD, is_csv, receipt_sentence, receive_source_upload, save_csv_source, \
    source_bundles

NO_TEST = ("A CSV source has no SIS connection to test: the schools of its newest valid bundle (orgs.csv) are listed "
           "under Schools for mapping.")
NOT_CSV = "This source reads an SIS over the OneRoster API; choose the OneRoster CSV method and save it first."


def owner_context(district, source) -> dict:
    """What the school's CSV partials need to post and link to the source's endpoints instead."""
    def owner_url(name, **args):
        return url_for(f"sources.{name}", district_id=district.id, source_id=source.id, **args)
    return {"owner_url": owner_url, "owner": source, "max_upload_mb": MAX_UPLOAD_MB}


def csv_context(district, source, **parts) -> dict:
    """The source page's CSV card: receipt sentence, upload form, SFTP account, bundles received."""
    return {**owner_context(district, source), "receipt_sentence": receipt_sentence(source),
            "bundles": source_bundles(source), "sftp": parts.pop("sftp", None) or sftp_view(source),
            "upload_error": "", "csv_notice": "", **parts}


def _values() -> dict:
    return {"name": str(request.form.get("name", ""))[:400], "sync_time": str(request.form.get("sync_time", ""))[:20],
            "automatic": request.form.get("automatic") == "on",
            "receipt": str(request.form.get("csv_sync_on_receipt", "now"))[:20]}


def save(district, source, page):
    """The Sources form posted with Method "OneRoster CSV": save a CSV source (`page` renders a whole page)."""
    values = _values()
    try:
        saved = save_csv_source(district, current_user, source=source, **values)
    except InvalidSettings as exc:
        extra = {"name": values["name"], "sync_time": values["sync_time"], "automatic": values["automatic"],
                 "receipt": values["receipt"]}
        context = form_context(district, source, errors=exc.errors, extra=extra, method=FORM_METHOD)
        if not is_htmx():
            return page(district, source, 422, context)
        return retarget(make_response(render_template("sources/_source_form.html", **context), 422),
                        "#connection-form")
    flash(f"Source \"{saved.name}\" saved." + ("" if source else " Upload a bundle or create its SFTP account; "
                                                              "its schools are then listed for mapping."), "success")
    target = url_for("sources.show", district_id=district.id, source_id=saved.id)
    return full_reload(make_response("", 204), target) if is_htmx() else redirect(target)


@bp.get("/method-form")
@district_manager_required
def method_form(district):
    """The source form for the method chosen in the Method menu (htmx swaps it in place)."""
    source = None
    raw = request.args.get("source", "")
    if raw.isdigit() and len(raw) < 10:
        source = db.session.get(Source, int(raw))
        if source is None or source.district_id != district.id:
            abort(404)
    method = FORM_METHOD if request.args.get("method") == FORM_METHOD else "oneroster"
    return render_template("sources/_source_form.html", **form_context(district, source, method=method))


def _csv_source_required(view):
    """The CSV endpoints answer 409 with what to do on an API source."""
    @wraps(view)
    def wrapper(district, source, **kwargs):
        if not is_csv(source):
            return make_response(NOT_CSV, 409)
        return view(district, source, **kwargs)
    return wrapper


def _page(district, source, status=200, **parts):
    from .routes import _page as whole_page
    return whole_page(district, source, status, csv_context(district, source, **parts))


# One rule per address (GET lists, POST uploads), as routes.index says why.
@bp.route("/<int:source_id>/bundles", methods=["GET", "POST"])
@district_manager_required
def upload_bundle(district, source):
    """POST: a zip or CSV files, streamed to a temporary file by the form parser (PortalRequest caps it at 500 MB);
    GET: the list of received bundles (the partial)."""
    if request.method == "GET":
        return bundle_list(district, source)
    if not is_csv(source):
        return make_response(NOT_CSV, 409)
    try:
        bundle = receive_source_upload(source, request.files.getlist("bundle"), current_user)
    except UploadRefused as exc:
        return _page(district, source, 422, upload_error=str(exc))
    flash(f"Received {bundle.filename}; the files are being checked.", "success")
    return redirect(url_for("sources.show", district_id=district.id, source_id=source.id, _anchor="csv-heading"))


def bundle_list(district, source):
    return render_template("rostering/_bundles.html", bundles=source_bundles(source),
                           **owner_context(district, source))


@bp.get("/<int:source_id>/bundles/<int:bundle_id>/report.csv")
@district_manager_required
def bundle_report(district, source, bundle_id):
    return report_download(owned_bundle(bundle_id, source=source), f"source-{source.id}-bundle-{bundle_id}-validation.csv")


@bp.get("/<int:source_id>/bundles/<int:bundle_id>/download")
@district_manager_required
def download_bundle(district, source, bundle_id):
    return bundle_download(owned_bundle(bundle_id, source=source), f"source-{source.id}-bundle-{bundle_id}.zip")


@bp.post("/<int:source_id>/bundles/sync")
@district_manager_required
@_csv_source_required
def sync_latest(district, source):
    """Sync now: each mapped school runs the newest valid bundle (its own run, as at receipt)."""
    bundle = latest_usable_bundle(0, source.id)
    if bundle is None:
        return _page(district, source, 409, csv_notice="No valid bundle has been received yet: upload one or have "
                                                       "the SIS push one over SFTP.")
    conns = [conn for conn in mapped_csv_connections(source.id) if conn.enabled_roles]
    try:
        runs = sync_source_bundle(bundle, conns, trigger="manual", actor=current_user)
    except NightAlreadyRunning as exc:
        return _page(district, source, 409, csv_notice=str(exc))
    flash(f"Sync of {bundle.filename} started for {len(runs)} school{'s' if len(runs) != 1 else ''}; each school's "
          "run is in its Sync history.", "success")
    return redirect(url_for("sources.show", district_id=district.id, source_id=source.id, _anchor="csv-heading"))


# -- the source's SFTP account (the school's partial, the source's endpoints) ---------------------------------
def _sftp_answer(district, source, status=200, **view):
    sftp = sftp_view(source, **view)
    if is_htmx():
        return make_response(render_template("rostering/_sftp_account.html", sftp=sftp,
                                             **owner_context(district, source)), status)
    return make_response(*_page(district, source, status, sftp=sftp))


def _account_required(view):
    @wraps(view)
    def wrapper(district, source):
        account = accounts.account_of(source)
        if account is None:
            return _sftp_answer(district, source, 409, error=NO_ACCOUNT.replace("school", "source"))
        return view(district, source, account)
    return wrapper


@bp.post("/<int:source_id>/sftp/account")
@district_manager_required
@_csv_source_required
def create_sftp_account(district, source):
    if accounts.account_of(source) is not None:
        return _sftp_answer(district, source, 409, error="This source already has an SFTP account; set a new "
                                                          "password below.")
    _, password = accounts.create_source_account(source, current_user)
    return _sftp_answer(district, source, 201, password=password, notice="SFTP account created.")


@bp.post("/<int:source_id>/sftp/password")
@district_manager_required
@_account_required
def reset_sftp_password(district, source, account):
    password = accounts.reset_password(account, current_user)
    return _sftp_answer(district, source, password=password, notice="New password set; the old one no longer works.")


@bp.post("/<int:source_id>/sftp/password/remove")
@district_manager_required
@_account_required
def remove_sftp_password(district, source, account):
    if not account.authorized_keys:
        return _sftp_answer(district, source, 409, error="Add an SSH public key first: without a password or a key "
                                                          "the SIS could not sign in.")
    accounts.remove_password(account, current_user)
    return _sftp_answer(district, source, notice="Password removed: the SIS signs in with its SSH key only.")


@bp.post("/<int:source_id>/sftp/keys")
@district_manager_required
@_account_required
def save_sftp_keys(district, source, account):
    text = request.form.get("authorized_keys", "")
    try:
        keys = accounts.save_keys(account, text, current_user)
    except InvalidKeys as exc:
        typed = "" if "PRIVATE KEY" in text else text[:MAX_TEXT]  # a pasted private key is never sent back
        return _sftp_answer(district, source, 422, keys_text=typed, error=str(exc))
    return _sftp_answer(district, source, notice=f"{len(keys)} SSH key{'s' if len(keys) != 1 else ''} saved.")


@bp.post("/<int:source_id>/sftp/remove")
@district_manager_required
@_account_required
def remove_sftp_account(district, source, account):
    accounts.remove_account(account, current_user)
    return _sftp_answer(district, source, notice="SFTP account removed; bundles already received are kept below.")
