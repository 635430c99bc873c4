"""Security headers with a strict CSP, and the user loader that honours session tokens."""
from flask import Flask

from store.db import db
from store.models import Person

from .extensions import login_manager

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


@login_manager.user_loader
def load_user(user_id: str):
    """Sessions carry id:token, so a password change signs out every other session."""
    person_id, _, token = user_id.partition(":")
    if not person_id.isdigit():
        return None
    person = db.session.get(Person, int(person_id))
    if person is None or person.session_token != token or not person.password_hash:
        return None
    return person


def init_app(app: Flask) -> None:
    @app.after_request
    def set_security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if app.config["PORTAL_ENV"] == "production":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response
