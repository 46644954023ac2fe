"""Tasks, task runs and schedules.

Task runs are rows of the one ``runs`` table (a contract action's run is the same object with
a file event as its trigger), grown by the task version, the trigger and per-step state.
``task_versions`` keeps every version of every definition; ``schedule_ticks`` holds one row per
fired (schedule, tick), its primary key being what makes a tick fire once across all peers.

Revision ID: 0007_i12
Revises: 0006_i11b
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_i12"
down_revision = "0006_i11c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("task_version", sa.Integer, nullable=True))
        batch.add_column(sa.Column("trigger", sa.String(16), nullable=False, server_default="event"))
        batch.add_column(sa.Column("steps", sa.Text, nullable=False, server_default="[]"))
    op.create_index("ix_runs_task_status", "runs", ["action", "status"])
    op.create_table(
        "task_versions",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False, server_default=""),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "schedule_ticks",
        sa.Column("schedule", sa.String(255), primary_key=True),
        sa.Column("tick", sa.BigInteger, primary_key=True),
        sa.Column("run_id", sa.BigInteger, nullable=True),
        sa.Column("fired_at", sa.BigInteger, nullable=False),
        sa.Column("fired_by", sa.String(128), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("schedule_ticks")
    op.drop_table("task_versions")
    op.drop_index("ix_runs_task_status", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("steps")
        batch.drop_column("trigger")
        batch.drop_column("task_version")
