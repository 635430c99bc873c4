from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from connectors.errors import InvalidSettings
from jobs.connection import get_connection
from store.models import ROLE_LABELS, ROLES

from ..access import school_required
from ..htmx import is_htmx
from ..paging import page_number
from ..rostering import service
from . import bp
from .controls import BadSisId, NotAllowed, apply_person_action, link_to_sis_record, person_of
from .directory import STATUSES, search_people

NO_CONNECTION = "This school has no SIS connection yet, so there are no sync rules to set."
RULE_BOXES = {"auto_update": "Auto update changes them", "archive": "Archive removes them"}


def _ticked(name: str) -> bool:
    """A checkbox sends "on" when ticked and nothing when not; any other value did not come from this form."""
    value = request.form.get(name)
    if value not in (None, "on"):
        raise InvalidSettings({name: f"“{RULE_BOXES[name]}” is a checkbox: tick it or leave it empty. "
                                     "Nothing was saved."})
    return value == "on"


def _rules_context(school, role: str, **extra) -> dict:
    """The per-role Auto update / Archive form, for a role that has sync rules (else nothing is shown)."""
    role = role if role in service.RULE_ROLES else ""
    conn = get_connection(school) if role else None  # no form without a role: no query either
    context = {"school": school, "rule_role": role, "rule_label": service.RULE_ROLES.get(role, ""),
               "rule_singular": ROLE_LABELS.get(role, "").lower(), "rules_conn": conn is not None,
               "rules": service.role_rules(conn, role), "rules_notice": "", "rules_error": ""}
    context.update(extra)
    return context


def _search_text(args) -> str:
    """What was typed in Search, without control characters (PostgreSQL refuses a NUL in a query)."""
    return "".join(ch for ch in args.get("q", "")[:200] if ch.isprintable())


def _empty_school(school, result, q, args) -> str:
    """"not_connected" or "connected" for a school with nobody in People yet but its owners (no filter), else ""."""
    if q or args.get("role") or args.get("status") or result.total > len(result.items):
        return ""
    if any(not person.can_manage_rostering for person in result.items):
        return ""
    conn = get_connection(school)
    return "connected" if conn is not None and conn.can_sync else "not_connected"


def _people_context(school, args) -> dict:
    q = _search_text(args)
    result = search_people(
        school,
        q=q,
        role=args.get("role", ""),
        status=args.get("status", ""),
        page=page_number(args),
        per_page=current_app.config["PEOPLE_PAGE_SIZE"],
    )
    context = _rules_context(school, args.get("role", ""))
    context.update(empty_school=_empty_school(school, result, q, args))
    context.update(result=result, q=q, role=args.get("role", ""),
                   status=args.get("status", ""), roles=ROLES, role_labels=ROLE_LABELS, statuses=STATUSES)
    return context


@bp.get("/people")
@school_required
def index(school):
    context = _people_context(school, request.args)
    if is_htmx() and request.headers.get("HX-Target") == "people-table":
        # the role's sync rules follow the Role filter: swapped in out of band next to the table
        return (render_template("people/_people_table.html", **context)
                + render_template("people/_sync_rules.html", oob=True, **context))
    return render_template("people/index.html", **context)


@bp.post("/people/sync-rules")
@school_required
def save_sync_rules(school):
    """Whether Auto update and Archive may change people of one role (teachers, staff, ...)."""
    role = request.form.get("role", "")[:40]
    conn = get_connection(school)
    if conn is None:
        return _rules_response(school, role, 409, rules_error=NO_CONNECTION)
    try:
        boxes = {name: _ticked(name) for name in RULE_BOXES}
        service.save_role_rules(conn, role, **boxes, actor=current_user)
    except InvalidSettings as exc:
        return _rules_response(school, role, 422, rules_error=str(exc))
    said = [sentence for r, sentence in service.role_rule_summary(conn) if r == role]
    notice = f"Saved. {said[0]}." if said else f"Saved. Auto update and Archive apply to {service.RULE_ROLES[role]}."
    return _rules_response(school, role, 200, rules_notice=notice)


def _rules_response(school, role, status, **extra):
    """htmx: the rules fragment; without JavaScript: the People page (422/409) or a redirect back to it."""
    if is_htmx():
        return render_template("people/_sync_rules.html", **_rules_context(school, role, **extra)), status
    if status == 200:
        flash(extra["rules_notice"], "success")
        return redirect(url_for("people.index", slug=school.slug, role=role) + "#sync-rules")
    context = _people_context(school, {"role": role})
    context.update(extra)
    return render_template("people/index.html", **context), status


@bp.post("/people/<int:person_id>/<action>")
@school_required
def person_action(school, person_id, action):
    """Exclude from sync, include, archive or restore one person; htmx swaps just their row."""
    person = person_of(school, person_id)
    if person is None:
        abort(404)
    if action == "archive" and request.form.get("confirmed") != "yes" and not person.can_manage_rostering:
        return _confirm_archive(school, person)
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


def _confirm_archive(school, person):
    """Archiving asks first: the row (htmx) or a page (no JavaScript) with the question and a confirming form."""
    if is_htmx():
        return render_template("people/_person_row.html", school=school, person=person, role_labels=ROLE_LABELS,
                               confirm_archive=True)
    return render_template("people/confirm_archive.html", school=school, person=person)


@bp.post("/people/<int:person_id>/sis-link")
@school_required
def link_sis_record(school, person_id):
    """Link someone made by hand to an SIS record on purpose (audited); htmx swaps just their row."""
    person = person_of(school, person_id)
    if person is None:
        abort(404)
    typed = request.form.get("source_id", "")
    try:
        message, status = link_to_sis_record(school, person, typed, current_user), 200
    except BadSisId as exc:
        message, status = str(exc), 422
    except NotAllowed as exc:
        message, status = str(exc), 409
    if is_htmx():
        return render_template("people/_person_row.html", school=school, person=person, role_labels=ROLE_LABELS,
                               message=message, error=status != 200, link_typed=typed[:255]), status
    flash(message, "success" if status == 200 else "error")
    if status == 200:
        return redirect(url_for("people.index", slug=school.slug) + f"#person-{person.id}")
    return render_template("people/index.html", **_people_context(school, request.args)), status
