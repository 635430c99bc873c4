"""The "Other OneRoster provider" form's optional OAuth scopes override (blank: the profile's default).

Revision ID: b5d1e8f3a2c4
Revises: b5e2f8a1c3d7
"""
import sqlalchemy as sa
from alembic import op

revision = "b5d1e8f3a2c4"
down_revision = "b5e2f8a1c3d7"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("roster_connection") as batch:
        batch.add_column(sa.Column("scope", sa.String(1000), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("roster_connection") as batch:
        batch.drop_column("scope")
