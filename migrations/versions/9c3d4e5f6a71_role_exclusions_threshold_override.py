"""Per-role exclusion from Auto update and Archive; a one-run archive threshold,
and the threshold a run was held to (so a later edit does not change what a held run says).

Revision ID: 9c3d4e5f6a71
Revises: 7b1c2d3e4f50
"""
import sqlalchemy as sa
from alembic import op

revision = "9c3d4e5f6a71"
down_revision = "7b1c2d3e4f50"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("roster_connection") as batch:
        batch.add_column(sa.Column("no_update_roles", sa.String(length=100), nullable=False, server_default=""))
        batch.add_column(sa.Column("no_archive_roles", sa.String(length=100), nullable=False, server_default=""))
    with op.batch_alter_table("sync_run") as batch:
        batch.add_column(sa.Column("archive_threshold_override", sa.Float(), nullable=True))
        batch.add_column(sa.Column("archive_threshold_applied", sa.Float(), nullable=True))
        batch.add_column(sa.Column("archive_uncounted_roles", sa.String(length=100), nullable=False,
                                   server_default=""))


def downgrade():
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_column("archive_uncounted_roles")
        batch.drop_column("archive_threshold_applied")
        batch.drop_column("archive_threshold_override")
    with op.batch_alter_table("roster_connection") as batch:
        batch.drop_column("no_archive_roles")
        batch.drop_column("no_update_roles")
