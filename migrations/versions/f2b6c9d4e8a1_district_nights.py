"""District nights: source_night (one read of a source's SIS per night), source_night_run (its schools' runs),
spool_record (the night's records by school; UNLOGGED on PostgreSQL) and district_report_choice (a District
Manager's digest or per-school reports).

Revision ID: f2b6c9d4e8a1
Revises: d8e1f4a7b2c6
"""
import sqlalchemy as sa
from alembic import op

revision = "f2b6c9d4e8a1"
down_revision = "d8e1f4a7b2c6"  # needs the source table
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "source_night",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("source.id", ondelete="CASCADE"), nullable=False),
        sa.Column("local_date", sa.String(10)),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("job_id", sa.String(100)),
        sa.Column("since", sa.DateTime(timezone=True)),
        sa.Column("schools", sa.Integer, nullable=False),
        sa.Column("records_read", sa.Integer, nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("error_message", sa.Text, nullable=False),
        sa.Column("digest_status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("uq_source_night_local_date", "source_night", ["source_id", "local_date"], unique=True)
    op.create_table(
        "source_night_run",
        sa.Column("night_id", sa.Integer, sa.ForeignKey("source_night.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("sync_run.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("school_id", sa.Integer, sa.ForeignKey("school.id", ondelete="CASCADE"), nullable=False),
        sa.Column("roles", sa.String(100), nullable=False, server_default=""),
        sa.Column("sis_school_id", sa.String(255), nullable=False, server_default=""),
    )
    op.create_table(
        "spool_record",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("night_id", sa.Integer, nullable=False),
        sa.Column("school_id", sa.Integer),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_spool_record_school", "spool_record", ["night_id", "school_id", "step", "id"])
    if op.get_bind().dialect.name == "postgresql":
        # A spool is rebuilt by the next night if the server crashes: skip the WAL (half the write cost).
        op.execute("ALTER TABLE spool_record SET UNLOGGED")
    op.create_table(
        "district_report_choice",
        sa.Column("person_id", sa.Integer, sa.ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("district_report_choice")
    op.drop_index("ix_spool_record_school", table_name="spool_record")
    op.drop_table("spool_record")
    op.drop_table("source_night_run")
    op.drop_index("uq_source_night_local_date", table_name="source_night")
    op.drop_table("source_night")
