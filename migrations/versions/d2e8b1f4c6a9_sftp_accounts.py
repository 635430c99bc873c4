"""The SFTP drop: one account per school (password hash and/or SSH public keys).

Revision ID: d2e8b1f4c6a9
Revises: d3b8f1a6c2e9
"""
import sqlalchemy as sa
from alembic import op

revision = "d2e8b1f4c6a9"
down_revision = "d3b8f1a6c2e9"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sftp_account",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("school_id", sa.Integer(), sa.ForeignKey("school.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("username", sa.String(length=80), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("authorized_keys", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade():
    op.drop_table("sftp_account")
