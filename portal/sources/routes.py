"""The district's Sources pages: set up a source, test it, map schools (thin views over the service)."""
from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from redis.exceptions import RedisError

from connectors.errors import InvalidSettings
from jobs.check_records import TooManyTests
from jobs.connection import get_connection
from store.db import db
from store.models import RosterConnection, School, Source

from ..htmx import full_reload, is_htmx, retarget
from ..rostering.forms import chosen_vendor, connection_values, switched_vendor_values
from ..rostering.routes import QUEUE_DOWN
from . import bp, csv_views, queue, service
from .access import district_manager_required
from .context import form_context, mapping_context
from .csv_source import FORM_METHOD, is_csv
from .night import night_context

MAX_TEXT = 400


def _text(name: str) -> str:
    return str(request.form.get(name, ""))[:MAX_TEXT]


def _form_extra() -> dict:
    return {"name": _text("name"), "sync_time": _text("sync_time"), "automatic": request.form.get("automatic") == "on"}


# One rule per address (GET shows, POST saves): with two rules on one address, an id past the database's
# range would answer 405 instead of 404 (werkzeug checks the method before it converts the id).
@bp.route("", methods=["GET", "POST"])
@district_manager_required
def index(district):
    if request.method == "POST":
        return _save(district, None)
    return _index_page(district)


def _index_page(district, status=200, **form):
    """The district's sources (each with its school count and last test) and the form to add one."""
    sources = list(db.session.scalars(db.select(Source).where(Source.district_id == district.id).order_by(Source.name)))
    counts = dict(db.session.execute(db.select(RosterConnection.source_id, db.func.count(RosterConnection.id))
                                     .where(RosterConnection.source_id.in_([s.id for s in sources]))
                                     .group_by(RosterConnection.source_id)).all())
    context = {**form_context(district), **form, "sources": sources, "counts": counts}
    return render_template("sources/index.html", **context), status


@bp.get("/vendor-fields")
@district_manager_required
def vendor_fields(district):
    """The chosen SIS's fields for the source form: the saved values for the source's own SIS, else empty (as on
    a school's Rostering page, nothing typed for another SIS carries over)."""
    source = None
    if request.args.get("source", "").isdigit() and len(request.args["source"]) < 10:  # past int range: none
        source = db.session.get(Source, int(request.args["source"]))
        if source is None or source.district_id != district.id:
            abort(404)
    vendor = chosen_vendor(request.args)
    values = switched_vendor_values(request.args, vendor, source.vendor if source else None)
    return render_template("rostering/_vendor_fields.html", **form_context(district, source, vendor=vendor,
                                                                           values=values))


def _invalid(district, source, vendor, values, errors):
    """422 with the form re-rendered next to each field; the typed secret is not sent back."""
    values = {k: v for k, v in values.items() if k != "client_secret"}
    context = form_context(district, source, vendor=vendor, values=values, errors=errors, extra=_form_extra())
    if not is_htmx():
        return _page(district, source, 422, context)
    return retarget(make_response(render_template("sources/_source_form.html", **context), 422), "#connection-form")


def _page(district, source, status=200, parts=None):
    """The whole page (without htmx) with `parts` overriding sections: typed values, errors, results."""
    parts = {k: v for k, v in (parts or {}).items() if k not in ("district", "source")}
    if source is None:
        return _index_page(district, status, **parts)
    method_part = csv_views.csv_context(district, source) if is_csv(source) else night_context(district, source)
    context = {**form_context(district, source), **mapping_context(district, source),
               **method_part, "source_test": None, "checks": None, "test_refusal": "", **parts}
    return render_template("sources/source.html", **context), status


def _save(district, source):
    if request.form.get("method") == FORM_METHOD:
        return csv_views.save(district, source, _page)
    vendor = chosen_vendor(request.form)
    values = connection_values(request.form, vendor)
    extra = _form_extra()
    try:
        saved = service.save_source(district, vendor, values, current_user, source=source, name=extra["name"],
                                    automatic=extra["automatic"], sync_time=extra["sync_time"])
    except InvalidSettings as exc:
        return _invalid(district, source, vendor, values, exc.errors)
    flash(f"Source \"{saved.name}\" saved." + ("" if source else " Test it to list the SIS's schools and map them."),
          "success")
    target = url_for("sources.show", district_id=district.id, source_id=saved.id)
    return full_reload(make_response("", 204), target) if is_htmx() else redirect(target)


@bp.route("/<int:source_id>", methods=["GET", "POST"])
@district_manager_required
def show(district, source):
    if request.method == "POST":
        return _save(district, source)
    return _page(district, source)


@bp.post("/<int:source_id>/test")
@district_manager_required
def test(district, source):
    """Queue the checklist and the SIS's school list on the form's values (blank secret: the saved one)."""
    if is_csv(source):  # no SIS to test: the mapping lists the schools of the newest valid bundle
        return _test_outcome(district, source, 409, refusal=csv_views.NO_TEST)
    vendor = chosen_vendor(request.form)
    values = connection_values(request.form, vendor)
    try:
        started = queue.start_test(source, vendor, values, current_user)
    except InvalidSettings as exc:
        return _invalid(district, source, vendor, values, exc.errors)
    except TooManyTests as exc:
        return _test_outcome(district, source, 429, refusal=exc.message, retry_after=exc.retry_after)
    except RedisError:
        return _test_outcome(district, source, 503, refusal=QUEUE_DOWN, retry_after=60)
    return _test_outcome(district, source, 202, test=started)


@bp.get("/<int:source_id>/test/<check_id>")
@district_manager_required
def test_result(district, source, check_id):
    started = queue.test_of(check_id[:100], source, current_user)
    if started is None:
        abort(404)
    return _test_outcome(district, source, 200, test=started)


def _test_outcome(district, source, status, *, test=None, refusal="", retry_after=None):
    parts = {"source_test": test, "checks": test.checks() if test and test.done else None, "test_refusal": refusal}
    if is_htmx():
        done = bool(test and test.done)  # the final state also swaps in the mapping with the listed schools
        mapping = mapping_context(district, source, sis_schools=test.schools or None) if done else \
            {"district": district, "source": source}
        response = make_response(render_template("sources/_source_test.html", refresh_mapping=done, **parts,
                                                 **mapping), status)
    else:
        response = make_response(*_page(district, source, status, parts))
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _school_of(district) -> School:
    """The school named by the form's school_id, in this district (404 otherwise: no existence leak)."""
    raw = str(request.form.get("school_id", ""))
    school = db.session.get(School, int(raw)) if raw.isdigit() and len(raw) < 12 else None
    if school is None or school.district_id != district.id:
        abort(404)
    return school


def _mapping_done(district, source, notice, errors=None, status=200):
    if not is_htmx():
        if errors:
            return _page(district, source, status, mapping_context(district, source, errors=errors))
        flash(notice, "success")
        return redirect(url_for("sources.show", district_id=district.id, source_id=source.id))
    context = mapping_context(district, source, errors=errors, notice="" if errors else notice)
    return render_template("sources/_mapping.html", **context), status


@bp.post("/<int:source_id>/mappings")
@district_manager_required
def map_school(district, source):
    """Confirm a mapping: this portal school is that SIS school."""
    if not str(request.form.get("school_id", "")).strip():  # "Choose a school…" left as it was: say so, not a 404
        sis = _text("sis_name") or _text("sis_school_id")
        return _mapping_done(district, source, "", status=422, errors={
            "school": f"Choose the portal school for SIS school {sis} in its menu, then press Confirm mapping "
                      "(or Add this school to the portal if the portal does not have it yet)."})
    school = _school_of(district)
    try:
        service.map_school(source, school, _text("sis_school_id"), current_user, sis_name=_text("sis_name"))
    except InvalidSettings as exc:
        return _mapping_done(district, source, "", errors=exc.errors, status=422)
    return _mapping_done(district, source, f"{school.name} is mapped to SIS school {_text('sis_school_id').strip()}.")


@bp.post("/<int:source_id>/unmap")
@district_manager_required
def unmap_school(district, source):
    school = _school_of(district)
    conn = get_connection(school)
    if conn is None or conn.source_id != source.id:
        abort(404)
    service.unmap_school(school, current_user)
    return _mapping_done(district, source, f"{school.name} no longer syncs from {source.name}; it keeps its sync "
                                           "settings and needs a connection of its own to sync.")


@bp.post("/<int:source_id>/add-school")
@district_manager_required
def add_school(district, source):
    """Create an SIS school the portal does not have yet, mapped to this source."""
    try:
        school = service.add_school(source, _text("sis_school_id"), _text("name"), current_user)
    except InvalidSettings as exc:
        return _mapping_done(district, source, "", errors=exc.errors, status=422)
    return _mapping_done(district, source, f"{school.name} was added to the portal and mapped to this source.")


@bp.post("/<int:source_id>/delete")
@district_manager_required
def delete(district, source):
    """Remove a source that no school syncs from any more."""
    name = source.name
    try:
        service.delete_source(source, current_user)
    except InvalidSettings as exc:
        flash(exc.errors["source"], "error")
        target = url_for("sources.show", district_id=district.id, source_id=source.id)
        return full_reload(make_response("", 409), target) if is_htmx() else redirect(target)
    flash(f"Source \"{name}\" was removed.", "success")
    target = url_for("sources.index", district_id=district.id)
    return full_reload(make_response("", 204), target) if is_htmx() else redirect(target)
