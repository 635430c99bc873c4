"""Rostering Portal: keeps a school's people directory in step with its SIS."""
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from connectors.redact import install_log_redaction
from store.db import db

from . import filters, htmx, queue, security
from .auth import bp as auth_bp
from .cli import register_cli
from .config import Config, INSTANCE_DIR, check_production_config
from .extensions import csrf, login_manager, mail, migrate
from .main import bp as main_bp
from .people import bp as people_bp
from .requests import PortalRequest
from .rostering import bp as rostering_bp
from .sources import bp as sources_bp
from .status import bp as status_bp


class DatabaseId(IntegerConverter):
    """Every <int:…> in a URL: an id past PostgreSQL's integer range is a 404 before any query, not a 500."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.request_class = PortalRequest
    app.url_map.converters["int"] = DatabaseId
    app.config.from_object(Config)
    if config:
        app.config.update(config)
    check_production_config(app.config)
    install_log_redaction()  # web and worker logs: SIS messages may echo credentials
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    if app.config["PORTAL_ENV"] == "production":
        app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    hops = int(app.config["PORTAL_PROXY_HOPS"])
    if hops > 0:  # the client address (for the sign-in limits) and scheme, as the trusted proxies saw them
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(INSTANCE_DIR.parent / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    mail.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.unauthorized_handler(lambda: htmx.sign_in_first(
        login_manager.login_view, login_manager.login_message, login_manager.login_message_category))
    login_manager.session_protection = "strong"

    filters.init_app(app)
    queue.init_app(app)
    security.init_app(app)
    for blueprint in (auth_bp, main_bp, people_bp, rostering_bp, sources_bp, status_bp):
        app.register_blueprint(blueprint)
    register_cli(app)
    return app
