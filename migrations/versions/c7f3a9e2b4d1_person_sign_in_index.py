"""A partial index over the people who can sign in (a password, or an owner's or district manager's role), so a
sync's directory load reads every sign-in account outside its school (jobs/directory.py:_elsewhere) from this
small index instead of scanning every person of every school.

Revision ID: c7f3a9e2b4d1
Revises: b5d1e8f3a2c4
"""
from alembic import op

revision = "c7f3a9e2b4d1"
down_revision = "b5d1e8f3a2c4"
branch_labels = None
depends_on = None

# The same expression as Person.can_sign_in in SQL (store/models.py), so the planner can prove the query implies it.
SIGNS_IN = "password_hash IS NOT NULL OR role IN ('owner', 'district_manager')"


def upgrade():
    op.execute(f"CREATE INDEX ix_person_sign_in ON person (school_id, email) WHERE {SIGNS_IN}")


def downgrade():
    op.execute("DROP INDEX ix_person_sign_in")
