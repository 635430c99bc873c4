"""History at a glance and Undo a sync: rostered people by role after each run, and the run an undo reversed.

Revision ID: d4b8e2f6a1c9
Revises: d8e2f4a6b1c3
"""
import sqlalchemy as sa
from alembic import op

revision = "d4b8e2f6a1c9"
down_revision = "d8e2f4a6b1c3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "run_role_count",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("sync_run.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("role", sa.String(length=32), primary_key=True),
        sa.Column("people", sa.Integer(), nullable=False),
    )
    with op.batch_alter_table("sync_run") as batch:
        batch.add_column(sa.Column("undoes_run_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_sync_run_undoes_run_id", "sync_run", ["undoes_run_id"], ["id"],
                                 ondelete="SET NULL")
        batch.create_index("ix_sync_run_undoes_run_id", ["undoes_run_id"])


def downgrade():
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_index("ix_sync_run_undoes_run_id")
        batch.drop_constraint("fk_sync_run_undoes_run_id", type_="foreignkey")
        batch.drop_column("undoes_run_id")
    op.drop_table("run_role_count")
