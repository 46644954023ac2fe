"""Reserved for issue 13's jobs and pipelines tables; empty until they land.

Revision ID: 0010_i13b
Revises: 0009_i13a
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0010_i13b"
down_revision = "0009_i13a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
