"""Issue 13 (part A): agents, their enrollment counts, and transfers (seed 001).

Revision ID: 0009_i13a
Revises: 0008_i12
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_i13a"
down_revision = "0008_i12"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False, server_default=""),
        sa.Column("os", sa.String(64), nullable=False, server_default=""),
        sa.Column("version", sa.String(64), nullable=False, server_default=""),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("partner", sa.String(255), nullable=False),
        sa.Column("api_key_id", sa.String(32), nullable=False, unique=True),
        sa.Column("enrollment", sa.String(128), nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("reported_status", sa.String(32), nullable=False, server_default="online"),
        sa.Column("load", sa.Text, nullable=True),
        sa.Column("memory", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_seen", sa.BigInteger, nullable=True),
        sa.Column("disabled_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_agents_partner", "agents", ["partner", "created_at"])
    op.create_table(
        "agent_enrollments",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("used", sa.Integer, nullable=False),
    )
    op.create_table(
        "transfers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("source", sa.Text, nullable=False, server_default=""),
        sa.Column("destination", sa.Text, nullable=False, server_default=""),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("bytes_transferred", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("progress", sa.Integer, nullable=False, server_default="0"),
        sa.Column("speed", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("ended_at", sa.BigInteger, nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("agent_id", sa.String(36), nullable=True),
        sa.Column("partner", sa.String(255), nullable=False, server_default=""),
        sa.Column("owner", sa.String(255), nullable=False, server_default=""),
        sa.Column("run_id", sa.BigInteger, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_transfers_started", "transfers", ["started_at", "id"])
    op.create_index("ix_transfers_partner", "transfers", ["partner", "started_at"])
    op.create_index("ix_transfers_agent", "transfers", ["agent_id", "started_at"])


def downgrade() -> None:
    op.drop_table("transfers")
    op.drop_table("agent_enrollments")
    op.drop_index("ix_agents_partner", table_name="agents")
    op.drop_table("agents")
