"""Index only the rows a lookup can want, and nothing no lookup uses.

The expiry sweeper asks for ``expiry_date <= now`` and the agent's transfer list for
``agent_id = ?``; neither can want a row whose column is NULL, yet every upload without a
retention and every transfer of a partner (not an agent) paid an entry in each index: one more
B-tree page written per catalog commit (bench/results/2026-12-03-stop19.md). As partial indexes
(``WHERE ... IS NOT NULL``, on SQLite and PostgreSQL alike) they answer the same queries.

``ix_events_fileset`` (0001) served no query at all, and every upload and download paid for it.

Revision ID: 0011
Revises: 0010_i13b
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010_i13b"
branch_labels = None
depends_on = None

# name, table, columns, the column that must be set
_PARTIAL = (
    ("ix_files_expiry_due", "files", ["expiry_date"], "expiry_date"),
    ("ix_transfers_agent", "transfers", ["agent_id", "started_at"], "agent_id"),
)


def upgrade() -> None:
    for name, table, columns, column in _PARTIAL:
        where = sa.text(f"{column} IS NOT NULL")
        op.drop_index(name, table)
        op.create_index(name, table, columns, sqlite_where=where, postgresql_where=where)
    op.drop_index("ix_events_fileset", "events")


def downgrade() -> None:
    for name, table, columns, _ in _PARTIAL:
        op.drop_index(name, table)
        op.create_index(name, table, columns)
    op.create_index("ix_events_fileset", "events", ["fileset"])
