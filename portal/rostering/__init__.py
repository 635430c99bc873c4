from flask import Blueprint

bp = Blueprint("rostering", __name__, url_prefix="/schools/<slug>/rostering")

from . import audit, bundles, demo, pauses, routes, runs, sftp, undo  # noqa: E402,F401
