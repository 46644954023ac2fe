from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import IntegrityError

from gateway.catalog import db as catalog_db
from gateway.catalog.db import Database, sqlite_url
from gateway.catalog.models import sessions
from gateway.catalog.writerlock import WriterLock
from tests.handoffs import thread_handoffs

pytestmark = pytest.mark.anyio


def _row(token: str) -> dict[str, Any]:
    return {"token_hash": token, "user_name": "u", "created_at": 1, "last_seen": 1, "expires_at": 2}


async def _tokens(db: Database) -> set[str]:
    async with db.read() as conn:
        return {r[0] for r in await conn.execute(select(sessions.c.token_hash))}


async def test_write_concurrent_blocks_share_commits_on_sqlite(tmp_path: Any) -> None:
    db = Database(sqlite_url(tmp_path))
    await db.migrate()
    commits = 0

    def count(*_: Any) -> None:
        nonlocal commits
        commits += 1

    event.listen(db.sync_engine, "commit", count)

    async def one(i: int) -> None:
        async with db.write() as conn:
            await conn.execute(insert(sessions).values(**_row(f"t{i}")))

    try:
        await asyncio.gather(*(one(i) for i in range(64)))
        assert await _tokens(db) == {f"t{i}" for i in range(64)}
        assert commits < 64 / 4, f"{commits} commits for 64 concurrent writes: no group commit"
    finally:
        await db.dispose()


async def test_write_failing_block_rolls_back_alone(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute(insert(sessions).values(**_row("dup")))

    async def good(token: str) -> None:
        async with db.write() as conn:
            await conn.execute(insert(sessions).values(**_row(token)))

    async def bad() -> None:
        async with db.write() as conn:
            await conn.execute(insert(sessions).values(**_row("partial")))
            await conn.execute(insert(sessions).values(**_row("dup")))  # violates the key

    results = await asyncio.gather(good("a"), bad(), good("b"), return_exceptions=True)
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], IntegrityError)
    assert await _tokens(db) == {"dup", "a", "b"}  # "partial" went with its block only


async def test_write_cancelled_while_committing_still_commits(tmp_path: Any) -> None:
    db = Database(sqlite_url(tmp_path))
    await db.migrate()

    async def writer() -> None:
        async with db.write() as conn:
            await conn.execute(insert(sessions).values(**_row("kept")))

    gate = asyncio.Event()
    commit_batch = db._commit_batch

    async def gated_commit() -> None:  # hold the group commit until the caller is cancelled
        await gate.wait()
        await commit_batch()

    db._commit_batch = gated_commit  # type: ignore[method-assign]
    try:
        task = asyncio.create_task(writer())
        await asyncio.sleep(0.2)  # the block has run; only its commit is outstanding
        assert not task.done()
        task.cancel()
        await asyncio.sleep(0.05)
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        # cancelled callers learn the outcome from the catalog; the commit was not abandoned
        assert "kept" in await _tokens(db)
    finally:
        await db.dispose()


async def test_a_waiter_cancelled_twice_leaves_its_batch_mates_alone(tmp_path: Any) -> None:
    """Each block waits on a future of its own: cancelling one waiter, even again while it
    waits out the commit it cannot abandon, never cancels the others' wait nor the commit."""
    db = Database(sqlite_url(tmp_path))
    await db.migrate()

    async def writer(token: str) -> None:
        async with db.write() as conn:
            await conn.execute(insert(sessions).values(**_row(token)))

    gate = asyncio.Event()
    commit_batch = db._commit_batch

    async def gated_commit() -> None:
        await gate.wait()
        await commit_batch()

    db._commit_batch = gated_commit  # type: ignore[method-assign]
    try:
        tasks = {t: asyncio.create_task(writer(t)) for t in ("first", "cancelled", "last")}
        await asyncio.sleep(0.2)  # all three blocks ran in one batch; its commit is held
        assert not any(task.done() for task in tasks.values())
        tasks["cancelled"].cancel()
        await asyncio.sleep(0.05)
        tasks["cancelled"].cancel()  # again, while it waits out the commit
        await asyncio.sleep(0.05)
        gate.set()
        await tasks["first"]  # neither raises
        await tasks["last"]
        with pytest.raises(asyncio.CancelledError):
            await tasks["cancelled"]
        assert await _tokens(db) >= {"first", "cancelled", "last"}
    finally:
        await db.dispose()


def test_head_revision_constant_matches_the_migration_scripts() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from gateway.catalog import db as catalog_db

    config = Config()
    config.set_main_option("script_location", str(catalog_db._MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == catalog_db.HEAD_REVISION


async def test_migrate_on_current_catalog_does_not_need_alembic(db: Database) -> None:
    assert await db.current_revision() == catalog_db.HEAD_REVISION
    await db.migrate()  # a no-op: nothing to upgrade


async def _write_while_held(db: Database, release: Any) -> None:
    """A write waits for a lock another process holds, and the event loop keeps running meanwhile."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def write() -> None:
        async with db.write() as conn:
            await conn.execute(insert(sessions).values(**_row("waited")))

    clock = asyncio.create_task(ticker())
    writing = asyncio.create_task(write())
    try:
        await asyncio.sleep(0.4)
        assert not writing.done()
        assert ticks >= 10  # a loop blocked in the busy handler or in flock would not have ticked
        release()
        await asyncio.wait_for(writing, 10)
    finally:
        clock.cancel()
    assert "waited" in await _tokens(db)


async def test_write_waits_off_the_loop_for_a_sqlite_lock_held_elsewhere(tmp_path: Any) -> None:
    db = Database(sqlite_url(tmp_path))
    await db.migrate()
    other = sqlite3.connect(tmp_path / "catalog.db", isolation_level=None)  # e.g. `mft-gateway migrate`
    other.execute("BEGIN IMMEDIATE")
    try:
        await _write_while_held(db, lambda: other.execute("COMMIT"))
    finally:
        other.close()
        await db.dispose()


async def test_write_waits_off_the_loop_for_a_sibling_workers_writer_lock(tmp_path: Any) -> None:
    db = Database(sqlite_url(tmp_path))
    await db.migrate()
    sibling = WriterLock(tmp_path / "catalog.db-writer.lock")  # another open file: flock conflicts
    assert sibling.try_acquire()
    try:
        await _write_while_held(db, sibling.release)
        # and the other way round: while this process's batch is open, the sibling cannot take it
        async with db.write() as conn:
            await conn.execute(insert(sessions).values(**_row("mine")))
            assert not sibling.try_acquire()
        assert sibling.try_acquire()
        sibling.release()
    finally:
        sibling.close()
        await db.dispose()


async def test_relaxed_commits_run_on_the_loop_and_checkpoint_in_a_thread(tmp_path: Any) -> None:
    """Without durability a commit syncs nothing, so it runs inline; SQLite's own checkpoint
    (which syncs) is off, and the WAL still reaches the database file through the threaded one."""
    db = Database(sqlite_url(tmp_path), durable=False)
    await db.migrate()
    db_file = tmp_path / "catalog.db"
    try:
        with db.sync_engine.connect() as sync_conn:
            assert sync_conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        await asyncio.sleep(catalog_db._CHECKPOINT_SECONDS)  # let migrate()'s checkpoint window pass
        size_before = db_file.stat().st_size
        with thread_handoffs("gateway.catalog.db") as threaded:
            started = time.monotonic()
            for i in range(300):
                async with db.write() as conn:
                    await conn.execute(insert(sessions).values(**_row(f"relaxed-{i:04d}-" + "x" * 200)))
            elapsed = time.monotonic() - started
            assert db._checkpoint is not None
            await db._checkpoint
        assert "commit" not in threaded
        # Only checkpoints go to a thread, and at most one per _CHECKPOINT_SECONDS of commits (a
        # loaded machine may need more than one window for the 300 commits).
        assert set(threaded) == {"_checkpoint_sync"}
        assert len(threaded) <= 1 + int(elapsed / catalog_db._CHECKPOINT_SECONDS)
        assert db_file.stat().st_size > size_before + 300 * 200, "the rows never left the WAL"
        assert len(await _tokens(db)) == 300
    finally:
        await db.dispose()


async def test_relaxed_wal_starts_over_under_a_steady_stream_of_commits(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits that never pause left a passive checkpoint no idle moment to restart the WAL,
    which then grew by everything ever written; past the limit a checkpoint holds writers off
    and restarts it, so the WAL stays a fraction of what was written."""
    monkeypatch.setattr(catalog_db, "_WAL_RESTART_PAGES", 64)
    monkeypatch.setattr(catalog_db, "_CHECKPOINT_SECONDS", 0.02)
    db = Database(sqlite_url(tmp_path), durable=False)
    await db.migrate()
    wal = tmp_path / "catalog.db-wal"
    try:
        commits = 3000
        for i in range(commits):
            async with db.write() as conn:
                await conn.execute(insert(sessions).values(**_row(f"steady-{i:05d}")))
        # Each commit appends at least one 4 KiB page to the WAL: without a restart the file holds
        # them all (~50 MB here, measured); restarted, it is overwritten from its start (~4 MB).
        assert wal.stat().st_size < commits * 4096, wal.stat().st_size
        assert len(await _tokens(db)) == commits
    finally:
        await db.dispose()


async def test_relaxed_wal_restart_never_stalls_concurrent_writers(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With writers always queued (16 at once, as under load) a batch is open whenever the funnel
    is free: a checkpoint that held the funnel and *waited* for that batch's transaction stalled
    every writer for the 10 s busy timeout (seen in bench/run.py). The checkpoint that holds the
    funnel runs between batches and waits for no one."""
    monkeypatch.setattr(catalog_db, "_WAL_RESTART_PAGES", 64)
    monkeypatch.setattr(catalog_db, "_CHECKPOINT_SECONDS", 0.02)
    db = Database(sqlite_url(tmp_path), durable=False)
    await db.migrate()
    slowest = 0.0

    async def writer(n: int) -> None:
        nonlocal slowest
        for i in range(150):
            started = time.monotonic()
            async with db.write() as conn:
                await conn.execute(insert(sessions).values(**_row(f"w{n:02d}-{i:04d}")))
            slowest = max(slowest, time.monotonic() - started)

    try:
        await asyncio.gather(*(writer(n) for n in range(16)))
        assert slowest < 3.0, slowest
        assert (tmp_path / "catalog.db-wal").stat().st_size < 16 * 150 * 4096
        assert len(await _tokens(db)) == 16 * 150
    finally:
        await db.dispose()


async def test_durable_commits_run_in_a_thread_with_sqlites_checkpoints(tmp_path: Any) -> None:
    db = Database(sqlite_url(tmp_path), durable=True)
    await db.migrate()
    try:
        with db.sync_engine.connect() as sync_conn:
            assert sync_conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        with thread_handoffs("gateway.catalog.db") as threaded:
            async with db.write() as conn:
                await conn.execute(insert(sessions).values(**_row("durable")))
        assert threaded == ["commit"]
        assert db._checkpoint is None
    finally:
        await db.dispose()


def _temp_files() -> list[str]:
    """SQLite's open temp files in this process (created and unlinked at once: ``etilqs_*``)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if "etilqs_" in target:
            found.append(target)
    return found


async def test_the_write_funnels_statement_journal_stays_in_memory(tmp_path: Any) -> None:
    """A block's savepoint keeps the original of every page it changes; past 64 KiB SQLite
    would spill that journal to a temp file on disk, one per batch."""
    db = Database(sqlite_url(tmp_path), durable=False)
    await db.migrate()
    try:
        with db.sync_engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE scratch (id INTEGER PRIMARY KEY, v BLOB)")
            conn.exec_driver_sql(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) "
                "INSERT INTO scratch SELECT i, randomblob(1000) FROM n"
            )
        before = _temp_files()
        async with db.write() as conn:
            await conn.execute(text("UPDATE scratch SET v = randomblob(1000)"))  # ~100 existing pages
            during = _temp_files()
        with db.sync_engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA temp_store").scalar() == 0  # elsewhere: SQLite's default
        assert during == before, during
    finally:
        await db.dispose()
