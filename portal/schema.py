"""Rebuild an empty schema from the migrations: for the test suite and the benchmarks, never production data."""
from flask_migrate import upgrade
from sqlalchemy import text

from store.db import db


def rebuild_schema() -> None:
    """Drop every table of the app's database and migrate it up to the newest revision (inside an app context)."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    else:
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(revision="heads")
