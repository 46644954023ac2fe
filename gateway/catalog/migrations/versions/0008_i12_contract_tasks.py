"""Reserved for issue 12's follow-up (contract actions as tasks); empty until that lands.

Revision ID: 0008_i12
Revises: 0007_i12
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0008_i12"
down_revision = "0007_i12"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
