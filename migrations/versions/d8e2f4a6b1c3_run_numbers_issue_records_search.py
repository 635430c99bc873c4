"""Run numbers per school, the raw SIS record of an issue apart from its message, and People search by sourcedId
(plus, on SQLite, an FTS5 trigram index so substring search does not scan 100,000 people).

- sync_run.number: 1, 2, 3… within each school (existing runs numbered by creation order).
- sync_issue.record: the excerpt of a malformed SIS record; the message stays plain words.
- PostgreSQL: a trigram index on lower(source_id) beside the ones migration e4a7b2c9d1f3 made.
- SQLite: person_search, an external-content FTS5 table (tokenize='trigram', SQLite 3.34+) over the searched
  columns, kept in step by triggers. https://www.sqlite.org/fts5.html#the_trigram_tokenizer and
  https://www.sqlite.org/fts5.html#external_content_tables ("delete" command with the old values).

Revision ID: d8e2f4a6b1c3
Revises: d2e8b1f4c6a9
"""
import logging

import sqlalchemy as sa
from alembic import op

revision = "d8e2f4a6b1c3"
down_revision = "d2e8b1f4c6a9"  # re-chained after main (was c7f3a9e2b4d1)
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# Existing runs numbered 1, 2, 3… per school in the order they were made (PostgreSQL and SQLite 3.25+ alike).
NUMBER_EXISTING_RUNS = ("UPDATE sync_run SET number = (SELECT ranked.n FROM (SELECT id, ROW_NUMBER() OVER "
                        "(PARTITION BY school_id ORDER BY created_at, id) AS n FROM sync_run) AS ranked "
                        "WHERE ranked.id = sync_run.id)")
SEARCHED = ("given_name", "family_name", "email", "sis_id", "source_id")  # portal/people/directory.py
_COLUMNS = ", ".join(SEARCHED)
_NEW = ", ".join(f"new.{c}" for c in SEARCHED)
_OLD = ", ".join(f"old.{c}" for c in SEARCHED)
SQLITE_SEARCH = (
    "DROP TABLE IF EXISTS person_search",  # a schema rebuilt by drop_all leaves the virtual table behind
    f"CREATE VIRTUAL TABLE person_search USING fts5({_COLUMNS}, content='person', content_rowid='id', "
    "tokenize='trigram')",
    f"INSERT INTO person_search(rowid, {_COLUMNS}) SELECT id, {_COLUMNS} FROM person",
    f"CREATE TRIGGER person_search_insert AFTER INSERT ON person BEGIN "
    f"INSERT INTO person_search(rowid, {_COLUMNS}) VALUES (new.id, {_NEW}); END",
    f"CREATE TRIGGER person_search_delete AFTER DELETE ON person BEGIN "
    f"INSERT INTO person_search(person_search, rowid, {_COLUMNS}) VALUES ('delete', old.id, {_OLD}); END",
    f"CREATE TRIGGER person_search_update AFTER UPDATE OF {_COLUMNS} ON person BEGIN "
    f"INSERT INTO person_search(person_search, rowid, {_COLUMNS}) VALUES ('delete', old.id, {_OLD}); "
    f"INSERT INTO person_search(rowid, {_COLUMNS}) VALUES (new.id, {_NEW}); END",
)


def upgrade():
    bind = op.get_bind()
    op.add_column("sync_run", sa.Column("number", sa.Integer(), nullable=True))
    op.execute(NUMBER_EXISTING_RUNS)
    op.create_index("ix_sync_run_school_number", "sync_run", ["school_id", "number"])
    op.add_column("sync_issue", sa.Column("record", sa.Text(), nullable=False, server_default=""))
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_SEARCH:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        schema = bind.scalar(sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension "
                                     "WHERE extname = 'pg_trgm'"))
        if schema:  # migration e4a7b2c9d1f3 made it when allowed; without it search is correct, only slower
            op.execute(f"CREATE INDEX IF NOT EXISTS ix_person_source_id_trgm ON person USING gin "
                       f"(lower(source_id) {schema}.gin_trgm_ops)")
        else:
            log.warning("pg_trgm is missing: People search by sourcedId works without a trigram index")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS person_search_{name}")
        op.execute("DROP TABLE IF EXISTS person_search")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_person_source_id_trgm")
    with op.batch_alter_table("sync_issue") as batch:
        batch.drop_column("record")
    op.drop_index("ix_sync_run_school_number", table_name="sync_run")
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_column("number")
