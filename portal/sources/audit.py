"""The district's audit log: who added, saved or removed one of its SIS sources (a school's own log has the rest)."""
from flask import render_template

from store.models import DistrictAuditEvent

from ..rostering.audit import action_label, newest_first
from . import bp
from .access import district_manager_required


@bp.get("/audit")
@district_manager_required
def audit(district):
    events = newest_first(DistrictAuditEvent, DistrictAuditEvent.district_id == district.id)
    return render_template("sources/audit.html", district=district, events=events, action_label=action_label)
