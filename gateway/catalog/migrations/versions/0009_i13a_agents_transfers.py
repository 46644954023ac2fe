"""Reserved for issue 13's agents and transfers tables; empty until they land.

Revision ID: 0009_i13a
Revises: 0008_i12
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0009_i13a"
down_revision = "0008_i12"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
