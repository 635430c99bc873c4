"""Server-side sign-in sessions: sign-out, "Sign out everywhere" and expiry end a session and its
remember cookie (issue 12, finding 3).

Sessions made before this migration carried "id:token" ids that no row matches: everyone signs in once more.

Revision ID: b5e2f8a1c3d7
Revises: e4a7b2c9d1f3
"""
import sqlalchemy as sa
from alembic import op

revision = "b5e2f8a1c3d7"
down_revision = "e4a7b2c9d1f3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sign_in_session",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("person_token", sa.String(length=64), nullable=False),
        sa.Column("remember", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sign_in_session_person_id", "sign_in_session", ["person_id"])


def downgrade():
    op.drop_index("ix_sign_in_session_person_id", table_name="sign_in_session")
    op.drop_table("sign_in_session")
