"""People search on PostgreSQL: one trigram index over a person's searchable text instead of five, and no
(school_id, email) index.

A first sync of a big school was paced by the server keeping the person indexes up to date. Copying 99,496
people of the bench school into a table shaped like person took 5.0-6.0 s with the five trigram indexes (given
name, family name, email, SIS id, sourcedId) and the (school_id, email) b-tree, 3.5-4.0 s with this one index and
without that b-tree, 1.2-1.3 s with no trigram index at all (three runs each). The one index holds the names, the
email's part before the @ (the names again, mostly, so their trigrams are shared), the SIS id and the sourcedId;
an email's domain (the same ~30 trigrams on every person of a district) is no longer indexed: a word holding an
@ is matched against the whole email (portal/people/directory.py), and its part before the @ still narrows the
search through this index. The (school_id, email) b-tree served no query: sign-in uses ix_person_sign_in and
links by email use ix_person_email.

Without pg_trgm (see e4a7b2c9d1f3) there is no trigram index before or after; search stays correct.

Revision ID: c9e4a1f7b3d2
Revises: b7e3d9f2a4c6
"""
import sqlalchemy as sa
from alembic import op

revision = "c9e4a1f7b3d2"
down_revision = "b7e3d9f2a4c6"
branch_labels = None
depends_on = None

# store.models.SEARCH_TEXT_SQL as this revision wrote it (a migration keeps its own copy)
SEARCH_TEXT_SQL = ("lower(given_name || ' ' || family_name || ' ' || split_part(email, '@', 1) || ' ' || sis_id"
                   " || ' ' || coalesce(source_id, ''))")
OLD_TRIGRAM_INDEXES = {
    "ix_person_given_name_trgm": "lower(given_name)",
    "ix_person_family_name_trgm": "lower(family_name)",
    "ix_person_email_trgm": "email",
    "ix_person_sis_id_trgm": "lower(sis_id)",
    "ix_person_source_id_trgm": "lower(source_id)",
}


def _pg_trgm_schema(bind) -> str | None:
    return bind.scalar(sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"))


def upgrade():
    bind = op.get_bind()
    with op.batch_alter_table("person") as batch_op:
        batch_op.drop_index("ix_person_school_email")
    if bind.dialect.name != "postgresql":
        return
    for name in OLD_TRIGRAM_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    schema = _pg_trgm_schema(bind)
    if schema:
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_person_search_trgm ON person USING gin "
                   f"(({SEARCH_TEXT_SQL}) {schema}.gin_trgm_ops)")


def downgrade():
    bind = op.get_bind()
    with op.batch_alter_table("person") as batch_op:
        batch_op.create_index("ix_person_school_email", ["school_id", "email"], unique=False)
    if bind.dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_person_search_trgm")
    schema = _pg_trgm_schema(bind)
    if schema:
        for name, expression in OLD_TRIGRAM_INDEXES.items():
            op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON person USING gin ({expression} {schema}.gin_trgm_ops)")
