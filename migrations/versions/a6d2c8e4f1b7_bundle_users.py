"""A received CSV bundle records how many users its users.csv holds, so a district CSV source's night can say how
many records it read (as an API night counts the records its SIS sent).

Revision ID: a6d2c8e4f1b7
Revises: c4f8a2d6e1b3
"""
import sqlalchemy as sa
from alembic import op

revision = "a6d2c8e4f1b7"
down_revision = "c4f8a2d6e1b3"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("roster_bundle") as batch:
        batch.add_column(sa.Column("users", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("roster_bundle") as batch:
        batch.drop_column("users")
