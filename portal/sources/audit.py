"""The district's audit log: who added, saved or removed one of its SIS sources (a school's own log has the rest)."""
from flask import render_template, request

from store.db import db
from store.models import DistrictAuditEvent

from ..paging import page_number
from ..rostering.audit import AUDIT_PAGE_SIZE, action_label
from . import bp
from .access import district_manager_required


@bp.get("/audit")
@district_manager_required
def audit(district):
    query = (db.select(DistrictAuditEvent).where(DistrictAuditEvent.district_id == district.id)
             .order_by(DistrictAuditEvent.created_at.desc(), DistrictAuditEvent.id.desc()))
    events = db.paginate(query, page=page_number(request.args), per_page=AUDIT_PAGE_SIZE, error_out=False)
    return render_template("sources/audit.html", district=district, events=events, action_label=action_label)
