from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, insert, select

from gateway.catalog import replay
from gateway.catalog.db import Database, now_us
from gateway.catalog.models import assertion_jtis

pytestmark = pytest.mark.anyio

_MINUTE_US = 60_000_000


async def _count(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(assertion_jtis))).scalar_one())


async def test_replay_remember_accepts_a_pair_once(db: Database) -> None:
    until = now_us() + _MINUTE_US
    assert await replay.remember(db, "client-a", "jti-1", until)
    assert not await replay.remember(db, "client-a", "jti-1", until)
    # the same jti from another issuer is another pair
    assert await replay.remember(db, "client-b", "jti-1", until)
    assert await _count(db) == 2


async def test_replay_remember_refuses_across_two_peers(db: Database, catalog_url: str) -> None:
    peer = Database(catalog_url)
    try:
        until = now_us() + _MINUTE_US
        assert await replay.remember(db, "client-a", "jti-1", until)
        assert not await replay.remember(peer, "client-a", "jti-1", until)
        assert await replay.remember(peer, "client-a", "jti-2", until)
        assert not await replay.remember(db, "client-a", "jti-2", until)
    finally:
        await peer.dispose()


async def test_replay_concurrent_remembers_on_two_peers_succeed_exactly_once(db: Database, catalog_url: str) -> None:
    peer = Database(catalog_url)
    try:
        until = now_us() + _MINUTE_US
        results = await asyncio.gather(
            *(replay.remember(db if i % 2 else peer, "client-a", "same-jti", until) for i in range(10))
        )
        assert sorted(results) == [False] * 9 + [True]
        assert await _count(db) == 1
    finally:
        await peer.dispose()


async def test_replay_pair_may_be_reused_once_its_row_has_expired(db: Database) -> None:
    """An expired row no longer refuses its pair, whether or not a purge has run since."""
    async with db.write() as conn:
        await conn.execute(insert(assertion_jtis).values(issuer="client-a", jti="old", expires_at=now_us() - 1))
    assert await replay.remember(db, "client-a", "old", now_us() + _MINUTE_US)
    assert not await replay.remember(db, "client-a", "old", now_us() + _MINUTE_US)


async def test_replay_purge_expired_keeps_live_rows(db: Database) -> None:
    now = now_us()
    async with db.write() as conn:
        await conn.execute(
            insert(assertion_jtis),
            [
                {"issuer": "c", "jti": "gone-1", "expires_at": now - _MINUTE_US},
                {"issuer": "c", "jti": "gone-2", "expires_at": now - 1},
                {"issuer": "c", "jti": "live", "expires_at": now + _MINUTE_US},
            ],
        )
    assert await replay.purge_expired(db) == 2
    assert not await replay.remember(db, "c", "live", now + _MINUTE_US)


async def test_replay_remember_purges_expired_rows_at_most_every_purge_period(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def add_expired(jti: str) -> None:
        async with db.write() as conn:
            await conn.execute(insert(assertion_jtis).values(issuer="c", jti=jti, expires_at=now_us() - 1))

    await add_expired("stale-1")
    assert await replay.remember(db, "c", "fresh-1", now_us() + _MINUTE_US)
    assert await _count(db) == 1  # the first accepted assertion of this process purged
    await add_expired("stale-2")
    assert await replay.remember(db, "c", "fresh-2", now_us() + _MINUTE_US)
    assert await _count(db) == 3  # within PURGE_SECONDS: no purge
    monkeypatch.setattr(replay, "PURGE_SECONDS", 0.0)
    assert await replay.remember(db, "c", "fresh-3", now_us() + _MINUTE_US)
    assert await _count(db) == 3  # stale-2 gone, fresh-3 added


@pytest.mark.parametrize(
    ("issuer", "jti"), [("", "j"), ("c", ""), ("c", "j" * 256), ("c", "a\x00b"), ("c\n", "j"), ("c", "\ud800")]
)
async def test_replay_remember_refuses_values_the_columns_cannot_hold(db: Database, issuer: str, jti: str) -> None:
    with pytest.raises(ValueError):
        await replay.remember(db, issuer, jti, now_us() + _MINUTE_US)
    assert await _count(db) == 0


async def test_replay_remember_accepts_the_longest_values(db: Database) -> None:
    assert await replay.remember(db, "i" * 255, "é" * 255, now_us() + _MINUTE_US)
    assert not await replay.remember(db, "i" * 255, "é" * 255, now_us() + _MINUTE_US)


async def test_replay_migration_downgrades_and_upgrades_again(db: Database) -> None:
    from sqlalchemy import inspect

    from tests.catalog.test_files import _run_alembic

    async def tables() -> set[str]:
        if db.async_engine is not None:
            async with db.async_engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        return set(inspect(db.sync_engine).get_table_names())

    assert "assertion_jtis" in await tables()
    await _run_alembic(db, "downgrade", "0006_i11a")
    assert "assertion_jtis" not in await tables()
    await _run_alembic(db, "upgrade", "head")
    assert await replay.remember(db, "c", "j", now_us() + _MINUTE_US)
    assert not await replay.remember(db, "c", "j", now_us() + _MINUTE_US)
