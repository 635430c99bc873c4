from flask import abort, redirect, render_template, url_for
from flask_login import current_user, login_required

from store.db import db
from store.models import District

from ..access import managed_schools
from ..rostering.chart_data import school_charts
from . import bp
from .nights import nights_context
from .overview import schedules_notice, school_schedules


@bp.get("/district/rostering")
@login_required
def mine():
    """The overview of the signed-in account's own district."""
    if not current_user.can_manage_rostering:
        abort(403)
    if current_user.district_id is None:
        abort(404)
    return redirect(url_for("status.district", district_id=current_user.district_id))


@bp.get("/districts/<int:district_id>/rostering")
@login_required
def district(district_id):
    """Every school the account manages in that district: on/off, next run (local), last result."""
    if not current_user.can_manage_rostering:
        abort(403)
    place = db.session.get(District, district_id)
    if place is None or current_user.district_id != district_id:
        abort(404)
    schools = [s for s in managed_schools(current_user) if s.district_id == district_id]
    rows = school_schedules(schools)
    return render_template("status/district.html", rows=rows, charts=school_charts(schools),
                           scheduler_notice=schedules_notice(rows, place.zone), **nights_context(place))
