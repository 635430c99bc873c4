"""Trigram indexes for People search (PostgreSQL only), so `LIKE '%word%'` on a big school
uses a BitmapOr of index scans instead of reading every person of the school.

Needs the pg_trgm extension. When the database user may not create it, the migration still
succeeds without the indexes (search stays correct, only slower) and logs a notice.
On SQLite it does nothing.

Revision ID: e4a7b2c9d1f3
Revises: 9c3d4e5f6a71
"""
import logging

import sqlalchemy as sa
from alembic import op

revision = "e4a7b2c9d1f3"
down_revision = "9c3d4e5f6a71"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# The expressions portal/people/directory.py:search_people matches, exactly as it writes them
# (email is stored lower-case, so it is searched as is).
TRIGRAM_INDEXES = {
    "ix_person_given_name_trgm": "lower(given_name)",
    "ix_person_family_name_trgm": "lower(family_name)",
    "ix_person_email_trgm": "email",
    "ix_person_sis_id_trgm": "lower(sis_id)",
}


def _pg_trgm_schema(bind) -> str | None:
    """The schema pg_trgm lives in, creating the extension when allowed; None when it cannot be had."""
    find = sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
    schema = bind.scalar(find)
    if schema:
        return schema
    if not bind.scalar(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")):
        log.warning("pg_trgm is not available on this server: People search works without its trigram indexes")
        return None
    try:
        with bind.begin_nested():  # a refusal must not abort the migration's transaction
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning("Could not create the pg_trgm extension (%s): People search works without its trigram "
                    "indexes. To add them later: a superuser runs CREATE EXTENSION pg_trgm, then "
                    "`flask db downgrade 9c3d4e5f6a71 && flask db upgrade`", str(exc.orig).strip().splitlines()[0])
        return None
    return bind.scalar(find)


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = _pg_trgm_schema(bind)
    if schema is None:
        return
    # The operator class is schema-qualified so an extension kept outside search_path still works.
    for name, expression in TRIGRAM_INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON person USING gin ({expression} {schema}.gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    # pg_trgm itself stays: other objects may use it, and creating it may need rights we no longer have.
