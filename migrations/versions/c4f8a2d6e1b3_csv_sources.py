"""District CSV sources: a Source may receive OneRoster CSV (its own SFTP account and bundles), so an SFTP account
and a received bundle belong to a school or to a source (exactly one of the two).

Revision ID: c4f8a2d6e1b3
Revises: b7e3d9a1c5f2
"""
import sqlalchemy as sa
from alembic import op

revision = "c4f8a2d6e1b3"
down_revision = "b7e3d9a1c5f2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("source") as batch:
        batch.add_column(sa.Column("csv_sync_on_receipt", sa.String(8), nullable=False, server_default="now"))
    for table in ("sftp_account", "roster_bundle"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("source_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(f"fk_{table}_source_id", "source", ["source_id"], ["id"], ondelete="CASCADE")
            batch.alter_column("school_id", existing_type=sa.Integer(), nullable=True)
            batch.create_check_constraint(f"ck_{table}_one_owner", "(school_id IS NULL) <> (source_id IS NULL)")
            if table == "sftp_account":
                batch.create_unique_constraint("uq_sftp_account_source_id", ["source_id"])
    op.create_index("ix_roster_bundle_source_received", "roster_bundle", ["source_id", "received_at"])


def downgrade():
    op.drop_index("ix_roster_bundle_source_received", table_name="roster_bundle")
    for table in ("sftp_account", "roster_bundle"):
        op.execute(f"DELETE FROM {table} WHERE source_id IS NOT NULL")
        with op.batch_alter_table(table) as batch:
            if table == "sftp_account":
                batch.drop_constraint("uq_sftp_account_source_id", type_="unique")
            batch.drop_constraint(f"ck_{table}_one_owner", type_="check")
            batch.alter_column("school_id", existing_type=sa.Integer(), nullable=False)
            batch.drop_constraint(f"fk_{table}_source_id", type_="foreignkey")
            batch.drop_column("source_id")
    with op.batch_alter_table("source") as batch:
        batch.drop_column("csv_sync_on_receipt")
