"""A district's SIS sources: set up once by a District Manager, each school mapped to one SIS school."""
from flask import Blueprint

bp = Blueprint("sources", __name__, url_prefix="/districts/<int:district_id>/sources")

from . import audit, night, routes  # noqa: E402,F401
