"""Security headers with a strict CSP, and the user loader that honours server-side sign-in sessions."""
from flask import Flask, request

from .auth.sessions import person_for
from .extensions import login_manager

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


@login_manager.user_loader
def load_user(user_id: str):
    """Cookies carry a sign-in session's token: sign-out, a password change or expiry ends it."""
    return person_for(user_id)


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
