"""The schedule overview: Automatic Rostering, next run and last result for every school one manages."""
from flask import Blueprint

bp = Blueprint("status", __name__)

from . import nights, routes  # noqa: E402,F401
