"""Listing indexes that match each sort exactly, ties broken by name.

Without the name column a sort had to finish in a temporary B-tree (a deep page of a 100,000-file
folder cost hundreds of milliseconds). On SQLite the nullable dates are indexed as
``(x IS NULL, x, name)``, the order the listing uses (files without a date last when ascending);
PostgreSQL's default NULLS LAST / backward scan gives the same order from ``(x, name)``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_OLD = ("ix_files_size", "ix_files_put_date", "ix_files_read_date", "ix_files_expiry")


def upgrade() -> None:
    for name in _OLD:
        op.drop_index(name, "files")
    op.create_index("ix_files_size", "files", ["vfs", "folder", "size", "name"])
    op.create_index("ix_files_put_date", "files", ["vfs", "folder", "put_date", "name"])
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, column in (("ix_files_read_date", "first_read_date"), ("ix_files_expiry", "expiry_date")):
        columns: list[str | sa.TextClause] = ["vfs", "folder"]
        if sqlite:
            columns.append(sa.text(f"{column} IS NULL"))
        op.create_index(name, "files", [*columns, column, "name"])


def downgrade() -> None:
    for name in _OLD:
        op.drop_index(name, "files")
    op.create_index("ix_files_size", "files", ["vfs", "folder", "size"])
    op.create_index("ix_files_put_date", "files", ["vfs", "folder", "put_date"])
    op.create_index("ix_files_read_date", "files", ["vfs", "folder", "first_read_date"])
    op.create_index("ix_files_expiry", "files", ["vfs", "folder", "expiry_date"])
