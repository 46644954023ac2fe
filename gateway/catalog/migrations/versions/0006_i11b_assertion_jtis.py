"""The ``jti`` of every accepted client assertion (RFC 7523), kept until the assertion expires.

One row per (issuer, jti): the primary key makes the second insert of a pair fail in the
catalog itself, so a replay is refused whichever peer receives it and however close together
the two requests arrive. ``expires_at`` (microseconds, like every catalog time) is when the row
may go: after it the assertion's own ``exp`` refuses it.

Revision ID: 0006_i11b
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_i11b"
down_revision = "0006_i11a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assertion_jtis",
        sa.Column("issuer", sa.String(255), primary_key=True),
        sa.Column("jti", sa.String(255), primary_key=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_assertion_jtis_expires", "assertion_jtis", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_assertion_jtis_expires", "assertion_jtis")
    op.drop_table("assertion_jtis")
