"""An app context for job code: reuse the caller's (tests, CLI), else build the app once per worker."""
from contextlib import contextmanager

from flask import Flask, current_app, has_app_context

_app: Flask | None = None


@contextmanager
def app_context():
    """Yield the Flask app with an app context pushed; RQ workers build it once and keep it."""
    global _app
    if has_app_context():
        yield current_app._get_current_object()
        return
    if _app is None:
        from portal import create_app
        _app = create_app()
    with _app.app_context():
        yield _app
