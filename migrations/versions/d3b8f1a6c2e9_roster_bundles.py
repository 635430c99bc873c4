"""OneRoster CSV bundles: the files a school sent (SFTP, upload, CLI) with their validation result; the run that read
one (sync_run.bundle_id); and whether a received bundle is synced at once or at the nightly time.

Revision ID: d3b8f1a6c2e9
Revises: f2b6c9d4e8a1
"""
import sqlalchemy as sa
from alembic import op

revision = "d3b8f1a6c2e9"
down_revision = "f2b6c9d4e8a1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "roster_bundle",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("school_id", sa.Integer(), sa.ForeignKey("school.id", ondelete="CASCADE"), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("stored_path", sa.String(length=1000), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=8), nullable=False),
        sa.Column("users_mode", sa.String(length=8), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("warning_count", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("report_csv", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_roster_bundle_school_received", "roster_bundle", ["school_id", "received_at"])
    with op.batch_alter_table("sync_run") as batch:
        batch.add_column(sa.Column("bundle_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_sync_run_bundle_id", "roster_bundle", ["bundle_id"], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("roster_connection") as batch:
        batch.add_column(sa.Column("csv_sync_on_receipt", sa.String(length=8), nullable=False, server_default="now"))


def downgrade():
    with op.batch_alter_table("roster_connection") as batch:
        batch.drop_column("csv_sync_on_receipt")
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_constraint("fk_sync_run_bundle_id", type_="foreignkey")
        batch.drop_column("bundle_id")
    op.drop_index("ix_roster_bundle_school_received", table_name="roster_bundle")
    op.drop_table("roster_bundle")
