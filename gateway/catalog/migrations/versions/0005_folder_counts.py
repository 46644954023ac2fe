"""Per-folder file counts, kept by triggers in the transaction of every insert and delete.

Counting a folder of 100,000 files walked 100,000 index entries (about 10 ms here), and every
listing page pays a count for its ``total``. A counter row per folder answers in one lookup;
triggers (not application code) keep it exact, whoever writes the ``files`` table. A name
filter still counts by scanning the folder's index entries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER files_count_insert AFTER INSERT ON files BEGIN
        INSERT INTO folder_counts (vfs, folder, files) VALUES (NEW.vfs, NEW.folder, 1)
        ON CONFLICT (vfs, folder) DO UPDATE SET files = files + 1;
    END""",
    """CREATE TRIGGER files_count_delete AFTER DELETE ON files BEGIN
        UPDATE folder_counts SET files = files - 1 WHERE vfs = OLD.vfs AND folder = OLD.folder;
    END""",
    """CREATE TRIGGER files_count_move AFTER UPDATE OF vfs, folder ON files
    WHEN OLD.vfs IS NOT NEW.vfs OR OLD.folder IS NOT NEW.folder BEGIN
        UPDATE folder_counts SET files = files - 1 WHERE vfs = OLD.vfs AND folder = OLD.folder;
        INSERT INTO folder_counts (vfs, folder, files) VALUES (NEW.vfs, NEW.folder, 1)
        ON CONFLICT (vfs, folder) DO UPDATE SET files = files + 1;
    END""",
)

_PG_FUNCTION = """CREATE FUNCTION files_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE folder_counts SET files = files - 1 WHERE vfs = OLD.vfs AND folder = OLD.folder;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO folder_counts (vfs, folder, files) VALUES (NEW.vfs, NEW.folder, 1)
        ON CONFLICT (vfs, folder) DO UPDATE SET files = folder_counts.files + 1;
    END IF;
    RETURN NULL;
END $$"""
_PG_TRIGGERS = (
    "CREATE TRIGGER files_count_insert AFTER INSERT OR DELETE ON files FOR EACH ROW EXECUTE FUNCTION files_count()",
    """CREATE TRIGGER files_count_move AFTER UPDATE OF vfs, folder ON files FOR EACH ROW
    WHEN (OLD.vfs IS DISTINCT FROM NEW.vfs OR OLD.folder IS DISTINCT FROM NEW.folder)
    EXECUTE FUNCTION files_count()""",
)


def upgrade() -> None:
    name_text = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
    op.create_table(
        "folder_counts",
        sa.Column("vfs", sa.String(255), primary_key=True),
        sa.Column("folder", name_text, primary_key=True),
        sa.Column("files", sa.BigInteger, nullable=False),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _SQLITE_TRIGGERS if sqlite else (_PG_FUNCTION, *_PG_TRIGGERS):
        op.execute(statement)
    op.execute(
        "INSERT INTO folder_counts (vfs, folder, files) SELECT vfs, folder, count(*) FROM files GROUP BY vfs, folder"
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name in ("files_count_insert", "files_count_delete", "files_count_move"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + ("" if sqlite else " ON files"))
    if not sqlite:
        op.execute("DROP FUNCTION files_count()")
    op.drop_table("folder_counts")
