from flask import Blueprint

bp = Blueprint("rostering", __name__, url_prefix="/schools/<slug>/rostering")

from . import audit, bundles, pauses, routes, runs, sftp  # noqa: E402,F401
