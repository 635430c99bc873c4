"""One check for every school page: role first (403), then school membership (404)."""
from functools import wraps

from flask import abort, g
from flask_login import current_user, login_required

from store.db import db
from store.models import School


def school_required(view):
    """Load the school in the URL for an Owner of it or a District Manager of its district.

    Other roles get 403; another school's or district's slug gets 404, so existence never leaks.
    """
    @wraps(view)
    @login_required
    def wrapper(slug, **kwargs):
        if not current_user.can_manage_rostering:
            abort(403)
        school = db.session.scalar(db.select(School).filter_by(slug=slug))
        if school is None or not current_user.manages(school):
            abort(404)
        g.school = school
        return view(school, **kwargs)
    return wrapper


def managed_schools(user) -> list[School]:
    """The schools this account may manage, by name."""
    query = db.select(School).order_by(School.name)
    if user.role == "owner":
        query = query.where(School.id == user.school_id)
    elif user.role == "district_manager":
        query = query.where(School.district_id == user.district_id)
    else:
        return []
    return list(db.session.scalars(query))
