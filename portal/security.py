"""Security headers with a strict CSP, and the user loader that honours session tokens."""
from flask import Flask, request

from .extensions import db, login_manager
from .models import Person

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
        if request.endpoint != "static":
            # Pages, partials, CSV and redirects may carry personal data (student emails): no browser or proxy
            # may keep a copy after sign-out. Static files carry none and keep their caching.
            response.headers["Cache-Control"] = "no-store"
        if request.endpoint == "auth.logout":
            # Drops any htmx history snapshot an older page left in sessionStorage (honoured on HTTPS and
            # loopback only). https://developer.mozilla.org/docs/Web/HTTP/Headers/Clear-Site-Data
            response.headers["Clear-Site-Data"] = '"storage"'
        return response
