"""Seasonal pause: blackout date ranges per school.

Revision ID: 7b1c2d3e4f50
Revises: 40d43cd39a84
"""
import sqlalchemy as sa
from alembic import op

revision = "7b1c2d3e4f50"
down_revision = "40d43cd39a84"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "blackout_period",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("school_id", sa.Integer(), sa.ForeignKey("school.id", ondelete="CASCADE"), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_blackout_period_school_id", "blackout_period", ["school_id"])


def downgrade():
    op.drop_index("ix_blackout_period_school_id", table_name="blackout_period")
    op.drop_table("blackout_period")
