"""Contract-action runs, and the route chain of each event.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("chain", sa.Text, nullable=False, server_default="[]"))
    op.create_table(
        "runs",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", _ID, sa.ForeignKey("events.id"), nullable=False),
        sa.Column("contract", sa.String(255), nullable=False),
        sa.Column("action", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dead", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        sa.Column("abort_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("manual", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("params", sa.Text, nullable=False, server_default="{}"),
        sa.Column("ordering_key", sa.Text, nullable=False),
        sa.Column("fileset", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=True),
        sa.Column("finished_at", sa.BigInteger, nullable=True),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("output", sa.Text, nullable=False, server_default=""),
        sa.Column("history", sa.Text, nullable=False, server_default="[]"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_runs_due", "runs", ["status", "next_attempt_at"])
    op.create_index("ix_runs_ordering", "runs", ["ordering_key", "id"])
    op.create_index("ix_runs_contract", "runs", ["contract", "id"])
    op.create_index("ix_runs_fileset", "runs", ["fileset"])
    op.create_index("ix_runs_event", "runs", ["event_id"])


def downgrade() -> None:
    op.drop_table("runs")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("chain")
