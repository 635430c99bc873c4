"""The Sources pages are a District Manager's: other roles (owners included) get 403, another district 404."""
from functools import wraps

from flask import abort, g
from flask_login import current_user, login_required

from store.db import db
from store.models import District, Source

MANAGERS_ONLY = ("SIS sources are set up by your district's District Managers: ask one of them to change a source or "
                 "a school's mapping. Your school's own sync settings are on its Rostering page.")


def district_manager_required(view):
    """Load the district in the URL (and the source, when the URL names one) for a District Manager of it."""
    @wraps(view)
    @login_required
    def wrapper(district_id, source_id=None, **kwargs):
        if current_user.role != "district_manager" or current_user.status != "active":
            abort(403, description=MANAGERS_ONLY)
        district = db.session.get(District, district_id)
        if district is None or current_user.district_id != district.id:
            abort(404)
        g.district = district
        if source_id is None:
            return view(district, **kwargs)
        source = db.session.get(Source, source_id)
        if source is None or source.district_id != district.id:
            abort(404)
        return view(district, source, **kwargs)
    return wrapper
