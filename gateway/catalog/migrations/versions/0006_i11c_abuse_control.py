"""Brute-force defence (scores, bans), rate-limit counts shared by peers, the audit trail.

Bans and audit rows are ordinary (logged) tables: a ban must survive a restart and the trail is
a record. Rate-limit counts are disposable, so on PostgreSQL the table is UNLOGGED (no WAL: a
crash empties it, which only forgets the current minute's counts).

Revision ID: 0006_i11c
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_i11c"
down_revision = "0006_i11b"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "defender_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(320), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_defender_events_key", "defender_events", ["key", "at"])
    op.create_index("ix_defender_events_at", "defender_events", ["at"])
    op.create_table(
        "defender_bans",
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("banned_at", sa.BigInteger, nullable=False),
        sa.Column("until", sa.BigInteger, nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
    )
    op.create_index("ix_defender_bans_until", "defender_bans", ["until"])
    op.create_table(
        "rate_counts",
        sa.Column("peer", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("tier", sa.String(16), primary_key=True),
        sa.Column("minute", sa.BigInteger, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_rate_counts_minute", "rate_counts", ["minute"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE rate_counts SET UNLOGGED")
    op.create_table(
        "audit_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("principal", sa.String(255), nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_event", "audit_events", ["event", "at"])
    op.create_index("ix_audit_events_principal", "audit_events", ["principal", "at"])


def downgrade() -> None:
    for table in ("audit_events", "rate_counts", "defender_bans", "defender_events"):
        op.drop_table(table)
