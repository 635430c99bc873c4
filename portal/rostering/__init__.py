from flask import Blueprint

bp = Blueprint("rostering", __name__, url_prefix="/schools/<slug>/rostering")

from . import audit, demo, pauses, routes, runs, undo  # noqa: E402,F401
