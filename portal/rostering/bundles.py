"""The OneRoster CSV method: its settings, uploads, the validation report (page and CSV), downloads, and starting a
Preview or sync of one bundle."""
import csv
import io
import os
import tempfile
import zipfile

from flask import (abort, current_app, flash, make_response, redirect, render_template, request, send_file, url_for)
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from connectors.errors import InvalidSettings
from jobs.connection import NotConfigured, get_connection
from jobs.runs import SyncAlreadyRunning, start_sync
from store.db import db
from store.models import RosterBundle
from store.vocabulary import run_kind

from ..access import school_required
from ..htmx import is_htmx, retarget, trigger
from ..main.routes import error_page
from ..requests import UPLOAD_ENDPOINTS
from . import bp
from .context import bundle_labels, connection_context, file_size
from .csv_method import (MAX_UPLOAD_MB, UploadRefused, bundles_of, csv_values, mapped_school_refusal, receive_upload,
                         report_rows, save_csv_connection)
from .routes import _page
from .runs import STARTABLE, _progress, _refused
from .spreadsheet import safe_cell

FOLLOWS_SOURCE = ("This school syncs from its district's source, which receives the bundles for every mapped school; "
                  "send the bundle to the district source (its page on Sources), not to the school.")
TOO_LARGE = (f"The upload is larger than {MAX_UPLOAD_MB} MB, the most the page accepts. Send only the files a people "
             "sync needs (manifest.csv, orgs.csv, users.csv), zipped; a larger export can be pushed over SFTP.")


def owned_bundle(bundle_id: int, *, school=None, source=None) -> RosterBundle:
    """The bundle only when it belongs to this school (or district source): another owner's id is a 404."""
    owner = RosterBundle.school_id == school.id if school is not None else RosterBundle.source_id == source.id
    bundle = db.session.scalar(db.select(RosterBundle).where(RosterBundle.id == bundle_id, owner))
    if bundle is None:
        abort(404)
    return bundle


@bp.app_context_processor
def _bundle_labels():
    return bundle_labels()


bp.add_app_template_filter(file_size, "file_size")


@bp.get("/method")
@school_required
def method_form(school):
    """The connection form for the method chosen in the Method menu (htmx swaps it in place)."""
    method = request.args.get("method", "")
    conn = get_connection(school)
    template = "rostering/_csv_connection_form.html" if method == "oneroster_csv" else \
        "rostering/_connection_form.html"
    return render_template(template, **connection_context(school, conn), conn=conn, csv_errors={},
                           csv_form=None)


@bp.post("/csv-connection")
@school_required
def save_csv(school):
    conn = get_connection(school)
    if conn is not None and conn.source is not None:  # its page shows the mapping, not this form: say it whole
        return error_page("This school follows its district's source", mapped_school_refusal(school, conn.source), 409)
    values = csv_values(request.form)
    try:
        save_csv_connection(school, values, current_user)
    except InvalidSettings as exc:
        if not is_htmx():
            return _page(school, 422, csv_form=values, csv_errors=exc.errors)
        context = connection_context(school, get_connection(school))
        html = render_template("rostering/_csv_connection_form.html", **context, conn=get_connection(school),
                               csv_form=values, csv_errors=exc.errors)
        return retarget(make_response(html, 422), "#connection-form")
    flash("Method saved: OneRoster CSV. Upload a bundle below, or have the SIS push one over SFTP.", "success")
    target = url_for("rostering.index", slug=school.slug)
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


@bp.post("/bundles")
@school_required
def upload_bundle(school):
    """A zip or CSV files, streamed to a temporary file by the form parser (PortalRequest caps it at 500 MB)."""
    conn = get_connection(school)
    if conn is not None and conn.source_id is not None:  # its runs read the district source's bundles
        return error_page("This school receives no bundles of its own", FOLLOWS_SOURCE, 409)
    try:
        bundle = receive_upload(school, request.files.getlist("bundle"), current_user)
    except UploadRefused as exc:
        return _page(school, 422, upload_error=str(exc))
    flash(f"Received {bundle.filename}; the files are being checked.", "success")
    return redirect(url_for("rostering.index", slug=school.slug, _anchor="csv-heading"))


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(error):
    """The body is refused while the CSRF check first reads the form, before any view runs: say what to do."""
    if request.endpoint in UPLOAD_ENDPOINTS:
        length = request.content_length
        if length is not None and length <= current_app.config["BUNDLE_MAX_UPLOAD_BYTES"]:
            # within the size limit, so the form parser stopped at its count of parts (files and fields), or at a
            # field or part header over its memory limit: werkzeug raises the same error for each, so say both
            return error_page("Upload not accepted", f"The upload holds more parts than one upload takes (at most "
                              f"{request.max_form_parts:,} files and fields), or a form field too large to be "
                              "this page's. Zip the CSV files and upload the zip with this page's form. Nothing was "
                              "changed.", 413)
        return error_page("File too large", TOO_LARGE, 413)
    return error_page("Request too large", "The request was larger than this page accepts. Nothing was changed.",
                      413)


@bp.get("/bundles/<int:bundle_id>")
@school_required
def bundle_status(school, bundle_id):
    """One bundle and its validation report; polled while it is being checked."""
    bundle = owned_bundle(bundle_id, school=school)
    rows, total = report_rows(bundle)
    response = make_response(render_template("rostering/_bundle.html", school=school, bundle=bundle, report=rows,
                                             report_total=total, conn=get_connection(school)))
    if bundle.status != "received":  # checked: the list of received bundles shows the result too
        trigger(response, "bundles-changed")
    return response


@bp.get("/bundles")
@school_required
def bundle_list(school):
    return render_template("rostering/_bundles.html", school=school, bundles=bundles_of(school))


@bp.get("/bundles/<int:bundle_id>/report.csv")
@school_required
def bundle_report(school, bundle_id):
    return report_download(owned_bundle(bundle_id, school=school), f"{school.slug}-bundle-{bundle_id}-validation.csv")


def report_download(bundle: RosterBundle, filename: str):
    """The bundle's validation report as a CSV download, every cell safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv.reader(io.StringIO(bundle.report_csv or "severity,file,line,column,problem,what_to_do\r\n")):
        writer.writerow([safe_cell(cell) for cell in row])
    response = make_response(out.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/bundles/<int:bundle_id>/download")
@school_required
def download_bundle(school, bundle_id):
    """The bundle as received (a folder of CSV files is zipped), while retention keeps it."""
    return bundle_download(owned_bundle(bundle_id, school=school), f"{school.slug}-bundle-{bundle_id}.zip")


def bundle_download(bundle: RosterBundle, name: str):
    """The stored bundle as a zip download (404 once retention deleted it)."""
    if not bundle.downloadable or not os.path.exists(bundle.stored_path):
        abort(404)
    if os.path.isfile(bundle.stored_path):
        return send_file(bundle.stored_path, mimetype="application/zip", as_attachment=True, download_name=name)
    buffer = tempfile.TemporaryFile()  # on disk, not in memory: a folder may hold hundreds of MB of CSV
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in sorted(os.scandir(bundle.stored_path), key=lambda e: e.name):
            if entry.is_file(follow_symlinks=False):
                archive.write(entry.path, entry.name)
    buffer.seek(0)
    return send_file(buffer, mimetype="application/zip", as_attachment=True, download_name=name)


@bp.post("/bundles/<int:bundle_id>/runs")
@school_required
def start_bundle_run(school, bundle_id):
    """Preview or sync this bundle (the Sync card's buttons read the newest valid one)."""
    bundle = owned_bundle(bundle_id, school=school)
    trigger = request.form.get("trigger", "preview")
    if trigger not in STARTABLE:
        abort(400)
    try:
        run = start_sync(school, trigger=trigger, actor=current_user, bundle_id=bundle.id)
    except SyncAlreadyRunning as exc:
        return _refused(school, exc.run, str(exc))
    except NotConfigured as exc:
        return _refused(school, None, str(exc))
    if not is_htmx():
        flash(f"{run_kind(trigger)} of {bundle.filename} started.", "success")
        return redirect(url_for("rostering.index", slug=school.slug, _anchor="sync-heading"))
    return _progress(school, run)
