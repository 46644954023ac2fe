"""Drop the storage-key index: every upload paid an entry on a random page of it.

Storage keys are random, so each new file's entry in ``ix_files_storage_key`` (0003) landed on
its own B-tree page: one more page written to the WAL per upload, about 15 µs of a 4 KiB
upload's catalog work (raw SQLite on this schema, five uploads per commit: 63-68 -> 48-50 µs).
Its one reader asked, after a catalog write whose outcome was unknown, whether a committed row
names the new object; ``catalog.files.holds`` now asks that by the ids the write inserted
(primary key, never reused), which is exact even after the file was moved.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_files_storage_key", "files")


def downgrade() -> None:
    op.create_index("ix_files_storage_key", "files", ["storage", "storage_key"])
