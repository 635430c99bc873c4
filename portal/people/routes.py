from flask import current_app, render_template, request

from ..access import is_htmx, school_required
from ..models import ROLE_LABELS, ROLES
from . import bp
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
