"""district_audit_event: who saved or removed a district's SIS source (a school's audit_event cannot say it for a
source no school syncs from).

Revision ID: b7e3d9a1c5f2
Revises: d3b8e1f0a9c2
"""
import sqlalchemy as sa
from alembic import op

revision = "b7e3d9a1c5f2"
down_revision = "d3b8e1f0a9c2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "district_audit_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("district_id", sa.Integer, sa.ForeignKey("district.id", ondelete="CASCADE"), nullable=False),
        sa.Column("actor_id", sa.Integer, sa.ForeignKey("person.id", ondelete="SET NULL")),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_district_audit_event_district_id", "district_audit_event", ["district_id"])


def downgrade():
    op.drop_index("ix_district_audit_event_district_id", "district_audit_event")
    op.drop_table("district_audit_event")
