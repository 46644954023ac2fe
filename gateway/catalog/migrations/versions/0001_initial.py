"""Initial catalog: files, file metadata, sessions, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_NAME = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("vfs", sa.String(255), nullable=False),
        sa.Column("folder", _NAME, nullable=False),
        sa.Column("name", _NAME, nullable=False),
        sa.Column("storage", sa.String(255), nullable=False),
        sa.Column("storage_key", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("datatype", sa.Text, nullable=False, server_default=""),
        sa.Column("correlation_id", sa.Text, nullable=False, server_default=""),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("dst_file_name", sa.Text, nullable=False, server_default=""),
        sa.Column("put_date", sa.BigInteger, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_modified_time", sa.BigInteger, nullable=False),
        sa.Column("first_read_date", sa.BigInteger, nullable=True),
        sa.Column("last_access_time", sa.BigInteger, nullable=True),
        sa.Column("expiry_date", sa.BigInteger, nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("uploaded_by", sa.String(255), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ux_files_path", "files", ["vfs", "folder", "name"], unique=True)
    op.create_index("ix_files_size", "files", ["vfs", "folder", "size"])
    op.create_index("ix_files_put_date", "files", ["vfs", "folder", "put_date"])
    op.create_index("ix_files_read_date", "files", ["vfs", "folder", "first_read_date"])
    op.create_index("ix_files_expiry", "files", ["vfs", "folder", "expiry_date"])
    op.create_index("ix_files_expiry_due", "files", ["expiry_date"])

    op.create_table(
        "file_metadata",
        sa.Column("file_id", _ID, sa.ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", _NAME, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )

    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_name", sa.String(255), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_seen", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("client_address", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index("ix_sessions_user", "sessions", ["user_name"])
    op.create_index("ix_sessions_expires", "sessions", ["expires_at"])

    op.create_table(
        "events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("user_name", sa.String(255), nullable=False),
        sa.Column("protocol", sa.String(16), nullable=False, server_default=""),
        sa.Column("contract", sa.String(255), nullable=False, server_default=""),
        sa.Column("vfs", sa.String(255), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("fileset", sa.BigInteger, nullable=True),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("client_address", sa.String(64), nullable=False, server_default=""),
        sa.Column("metadata", sa.Text, nullable=False, server_default="{}"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_time", "events", ["time"])
    op.create_index("ix_events_fileset", "events", ["fileset"])


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("sessions")
    op.drop_table("file_metadata")
    op.drop_table("files")
