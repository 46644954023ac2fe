"""The agents and transfers tables (migration 0009_i13a) on SQLite and PostgreSQL: enrollment uses
counted atomically, transfer rows written in batches with their final state."""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.catalog import agents, transfers
from gateway.catalog.db import Database, sqlite_url
from gateway.catalog.models import agent_enrollments, agents as agents_table, transfers as transfers_table
from gateway.catalog.transfers import TransferFilter
from gateway.core import transfer_log

pytestmark = pytest.mark.anyio


async def test_migration_creates_the_tables_as_the_models_declare(db: Database) -> None:
    def columns(conn: sa.Connection) -> dict[str, set[str]]:
        inspector = sa.inspect(conn)
        return {t: {c["name"] for c in inspector.get_columns(t)} for t in ("agents", "agent_enrollments", "transfers")}

    if db.async_engine is not None:
        async with db.async_engine.connect() as conn:
            found = await conn.run_sync(columns)
    else:
        with db.sync_engine.connect() as sync_conn:
            found = columns(sync_conn)
    declared = {t.name: {c.name for c in t.columns} for t in (agents_table, agent_enrollments, transfers_table)}
    assert found == declared


async def test_enrollment_uses_are_counted_atomically(db: Database) -> None:
    results = await asyncio.gather(*(agents.use_enrollment(db, "enrol-x-000001", 3) for _ in range(10)))
    assert sorted(results) == [False] * 7 + [True] * 3
    await agents.release_enrollment(db, "enrol-x-000001")
    assert await agents.use_enrollment(db, "enrol-x-000001", 3)
    assert not await agents.use_enrollment(db, "enrol-x-000001", 3)
    assert await agents.use_enrollment(db, "enrol-y-000001", 1)  # each identifier has its own count


async def test_transfer_rows_are_written_by_the_batch_with_their_final_state(db: Database) -> None:
    begun = [
        transfer_log.begin(
            db,
            direction="upload",
            protocol="http",
            source="http://127.0.0.1",
            destination=f"v:/f{i}",
            partner="P",
            owner="u",
        )  # fmt: skip
        for i in range(50)
    ]
    assert (await transfers.page(db, TransferFilter(partner="P"), 0, 100))[1] == 0  # nothing written by begin
    for i, tracker in enumerate(begun):
        tracker.add(100)
        tracker.add(100)  # within the second: counted in memory only
        tracker.finish("completed" if i % 2 else "failed", size=200, sha256="a" * 64 if i % 2 else None)
    await transfer_log.flush(db)
    rows, total = await transfers.page(db, TransferFilter(partner="P"), 0, 100)
    assert total == 50
    done = [r for r in rows if r.status == "completed"]
    assert len(done) == 25 and all(r.progress == 100 and r.bytes_transferred == 200 and r.sha256 for r in done)
    assert all(r.ended_at is not None for r in rows)
    # A later change of a written row is an UPDATE in the next batch.
    late = transfer_log.begin(db, direction="download", protocol="http", source="v:/f0", destination="c",
                              partner="P", owner="u", size=10)  # fmt: skip
    await transfer_log.flush(db)
    late.add(10)
    late.finish("completed")
    await transfer_log.flush(db)
    row = await transfers.get(db, late.id)
    assert row is not None and row.status == "completed" and row.progress == 100
    assert (await transfers.page(db, TransferFilter(partner="P", status="failed"), 0, 100))[1] == 25


async def test_purge_removes_only_rows_older_than_the_cutoff(db: Database) -> None:
    old = transfer_log.begin(db, direction="upload", protocol="http", source="s", destination="v:/old", partner="Q",
                             owner="u")  # fmt: skip
    old.finish("completed")
    old.started_at = old.updated_at = 1_000_000  # 1970
    kept = transfer_log.begin(db, direction="upload", protocol="http", source="s", destination="v:/new", partner="Q",
                              owner="u")  # fmt: skip
    await transfer_log.flush(db)
    assert await transfers.purge(db, 2_000_000) == 1
    rows, total = await transfers.page(db, TransferFilter(partner="Q"), 0, 10)
    assert total == 1 and rows[0].id == kept.id


async def test_a_dropped_catalog_is_freed_though_rows_of_it_still_wait(tmp_path: Path) -> None:
    """The flusher's book of a catalog refers to it weakly: a catalog closed and dropped with a
    row still waiting is freed, and the row, with nowhere to go, is dropped without an error."""
    db = Database(sqlite_url(tmp_path))
    await db.migrate()
    written = transfer_log.begin(db, direction="upload", protocol="http", source="s", destination="v:/a",
                                 partner="R", owner="u")  # fmt: skip
    written.finish("completed")
    await transfer_log.flush(db)
    waiting = transfer_log.begin(db, direction="upload", protocol="http", source="s", destination="v:/b",
                                 partner="R", owner="u")  # fmt: skip
    book = waiting.book
    await db.dispose()
    gone = weakref.ref(db)
    del db
    gc.collect()  # the engine holds cycles of its own
    assert gone() is None
    await book.flush()
    assert not book.dirty
