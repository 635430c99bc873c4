from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..access import is_htmx, school_required
from ..models import ROLE_LABELS, ROLES
from . import bp
from .controls import NotAllowed, apply_person_action, person_of
from .directory import STATUSES, search_people


@bp.get("/people")
@school_required
def index(school):
    page_number = request.args.get("page", "1")
    result = search_people(
        school,
        q=request.args.get("q", "")[:200],
        role=request.args.get("role", ""),
        status=request.args.get("status", ""),
        page=int(page_number) if page_number.isdigit() else 1,
        per_page=current_app.config["PEOPLE_PAGE_SIZE"],
    )
    context = dict(school=school, result=result, q=request.args.get("q", "")[:200],
                   role=request.args.get("role", ""), status=request.args.get("status", ""),
                   roles=ROLES, role_labels=ROLE_LABELS, statuses=STATUSES)
    if is_htmx() and request.headers.get("HX-Target") == "people-table":
        return render_template("people/_people_table.html", **context)
    return render_template("people/index.html", **context)


@bp.post("/people/<int:person_id>/<action>")
@school_required
def person_action(school, person_id, action):
    """Exclude from sync, include, archive or restore one person; htmx swaps just their row."""
    person = person_of(school, person_id)
    if person is None:
        abort(404)
    try:
        message, status = apply_person_action(school, person, action, current_user), 200
    except NotAllowed as exc:
        message, status = str(exc), 409
    if is_htmx():
        return render_template("people/_person_row.html", school=school, person=person, role_labels=ROLE_LABELS,
                               message=message, error=status != 200), status
    flash(message, "success" if status == 200 else "error")
    return redirect(request.referrer if request.referrer and request.referrer.startswith(request.host_url)
                    else url_for("people.index", slug=school.slug))
