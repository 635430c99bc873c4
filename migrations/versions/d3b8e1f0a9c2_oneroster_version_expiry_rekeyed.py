"""OneRoster version and credentials' expiry date per connection; people re-keyed per run (issue 15).

Revision ID: d3b8e1f0a9c2
Revises: d4b8e2f6a1c9
"""
import sqlalchemy as sa
from alembic import op

revision = "d3b8e1f0a9c2"
down_revision = "d4b8e2f6a1c9"  # the head of main when merged (history)
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("roster_connection") as batch:
        batch.add_column(sa.Column("oneroster_version", sa.String(8), nullable=False, server_default="1.1"))
        batch.add_column(sa.Column("credentials_expire_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("keyed_version", sa.String(8), nullable=False, server_default="1.1"))
    with op.batch_alter_table("sync_run") as batch:
        batch.add_column(sa.Column("rekeyed", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_column("rekeyed")
    with op.batch_alter_table("roster_connection") as batch:
        batch.drop_column("keyed_version")
        batch.drop_column("credentials_expire_on")
        batch.drop_column("oneroster_version")
