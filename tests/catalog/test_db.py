from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.exc import IntegrityError

from gateway.catalog import db as catalog_db
from gateway.catalog.db import Database, sqlite_url
from gateway.catalog.models import sessions

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
