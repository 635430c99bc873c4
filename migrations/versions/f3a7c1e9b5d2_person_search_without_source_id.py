"""People search on PostgreSQL: the trigram index leaves out the sourcedId, which is matched whole instead.

A sourcedId is a long machine id (a GUID, "Stu-0810017-1"): people paste it whole from an issue or a report, nobody
types a part of it, yet its trigrams were most of each person's entry in the index that a first sync's INSERTs keep
up to date. Copying the bench school's 99,496 people into a table shaped like person took 4.1-4.6 s with the
sourcedId in the index and 2.6-3.1 s without it (session 11, three runs each). portal/people/directory.py now
matches a word against the sourcedId whole (as typed, lower or upper case) through uq_person_school_source.

Without pg_trgm (see e4a7b2c9d1f3) there is no trigram index before or after; search stays correct.

Revision ID: f3a7c1e9b5d2
Revises: c9e4a1f7b3d2
"""
import sqlalchemy as sa
from alembic import op

revision = "f3a7c1e9b5d2"
down_revision = "c9e4a1f7b3d2"
branch_labels = None
depends_on = None

# store.models.SEARCH_TEXT_SQL as this revision and the one before wrote it (a migration keeps its own copy)
SEARCH_TEXT_SQL = "lower(given_name || ' ' || family_name || ' ' || split_part(email, '@', 1) || ' ' || sis_id)"
SEARCH_TEXT_WITH_SOURCE_ID_SQL = ("lower(given_name || ' ' || family_name || ' ' || split_part(email, '@', 1)"
                                  " || ' ' || sis_id || ' ' || coalesce(source_id, ''))")


def _rebuild_search_index(expression: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_person_search_trgm")
    schema = bind.scalar(sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"))
    if schema:
        op.execute(f"CREATE INDEX ix_person_search_trgm ON person USING gin (({expression}) {schema}.gin_trgm_ops)")


def upgrade():
    _rebuild_search_index(SEARCH_TEXT_SQL)


def downgrade():
    _rebuild_search_index(SEARCH_TEXT_WITH_SOURCE_ID_SQL)
