"""A preview records whether the real run would be held by the archive guard (sync_run.would_hold).

A preview used to apply no guard at all: one that would archive 146 of 190 people said "succeeded" and exit 0, and
the real run was then held. The flag lets the page, `roster sync --preview` and `roster import --preview` say so.
Existing runs are not previews that were checked, so they keep false.

Revision ID: a4c8e2f1b7d9
Revises: f3a7c1e9b5d2
"""
import sqlalchemy as sa
from alembic import op

revision = "a4c8e2f1b7d9"
down_revision = "f3a7c1e9b5d2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sync_run") as batch:
        batch.add_column(sa.Column("would_hold", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_column("would_hold")
