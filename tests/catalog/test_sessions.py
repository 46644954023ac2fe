from __future__ import annotations

import pytest
from sqlalchemy import select, update

from gateway.catalog import sessions
from gateway.catalog.db import Database
from gateway.catalog.models import sessions as table

pytestmark = pytest.mark.anyio


async def test_sessions_create_stores_only_hash_of_token(db: Database) -> None:
    token = await sessions.create(db, "alice", 3600, "127.0.0.1")
    assert len(token) >= 43  # 256 bits, URL-safe base64
    async with db.read() as conn:
        stored = (await conn.execute(select(table.c.token_hash))).scalar_one()
    assert token not in stored and len(stored) == 64


async def test_sessions_lookup_valid_token_returns_user(db: Database) -> None:
    token = await sessions.create(db, "alice", 3600)
    record = await sessions.lookup(db, token, 600)
    assert record is not None and record.user_name == "alice"
    assert await sessions.lookup(db, token + "x", 600) is None


async def test_sessions_lookup_idle_too_long_returns_none(db: Database) -> None:
    token = await sessions.create(db, "alice", 3600)
    async with db.write() as conn:
        await conn.execute(update(table).values(last_seen=table.c.last_seen - 11 * 1_000_000))
    assert await sessions.lookup(db, token, 10) is None
    assert await sessions.lookup(db, token, 20) is not None


async def test_sessions_lookup_past_absolute_lifetime_returns_none(db: Database) -> None:
    token = await sessions.create(db, "alice", 0)
    assert await sessions.lookup(db, token, 600) is None


async def test_sessions_revoke_ends_session(db: Database) -> None:
    token = await sessions.create(db, "alice", 3600)
    assert await sessions.revoke(db, token)
    assert await sessions.lookup(db, token, 600) is None
    assert not await sessions.revoke(db, token)


async def test_sessions_purge_expired_keeps_live_ones(db: Database) -> None:
    live = await sessions.create(db, "alice", 3600)
    await sessions.create(db, "bob", 0)
    assert await sessions.purge_expired(db, 600) == 1
    assert await sessions.lookup(db, live, 600) is not None


async def test_sessions_revoked_here_end_at_once_though_remembered(db: Database) -> None:
    token = await sessions.create(db, "alice", 3600)
    other = await sessions.create(db, "alice", 3600)
    assert await sessions.lookup(db, token, 600) is not None  # now remembered by this process
    assert await sessions.lookup(db, other, 600) is not None
    assert await sessions.revoke(db, token)
    assert await sessions.lookup(db, token, 600) is None
    assert await sessions.revoke_user(db, "alice") == 1
    assert await sessions.lookup(db, other, 600) is None


async def test_sessions_revoked_by_another_peer_end_within_the_cache_time(
    db: Database, catalog_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await sessions.create(db, "alice", 3600)
    assert await sessions.lookup(db, token, 600) is not None
    peer = Database(catalog_url)
    try:
        assert await sessions.revoke(peer, token)
        # Within CACHE_SECONDS this process still honours it (the documented trade-off)...
        assert await sessions.lookup(db, token, 600) is not None
        # ...and once they have passed, it reads the catalog again.
        monkeypatch.setattr(sessions, "CACHE_SECONDS", 0)
        assert await sessions.lookup(db, token, 600) is None
    finally:
        await peer.dispose()


async def test_sessions_remembered_session_that_looks_idle_is_read_again(db: Database) -> None:
    """Another peer may have seen the client since: the catalog, not the memory, decides."""
    token = await sessions.create(db, "alice", 3600)
    async with db.write() as conn:
        await conn.execute(update(table).values(last_seen=table.c.last_seen - 11 * 1_000_000))
    assert await sessions.lookup(db, token, 100) is not None  # remembered, last_seen 11 s ago (no touch yet)
    async with db.write() as conn:  # a peer touches it
        await conn.execute(update(table).values(last_seen=table.c.last_seen + 11 * 1_000_000))
    assert await sessions.lookup(db, token, 10) is not None
