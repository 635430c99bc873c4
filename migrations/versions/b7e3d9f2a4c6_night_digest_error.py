"""A district night records why its digest email was not sent, so the overview can tell the manager what the mail
server said (a refused login, a refused address, no answer) instead of a guess.

Revision ID: b7e3d9f2a4c6
Revises: a6d2c8e4f1b7
"""
import sqlalchemy as sa
from alembic import op

revision = "b7e3d9f2a4c6"
down_revision = "a6d2c8e4f1b7"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("source_night") as batch:
        batch.add_column(sa.Column("digest_error", sa.Text(), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("source_night") as batch:
        batch.drop_column("digest_error")
