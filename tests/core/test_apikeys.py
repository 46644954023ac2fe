"""API keys in process: stored only as a hash, last use written at most once a minute, and a
revocation through another peer honoured within the row cache's second."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.app import start_runtime
from gateway.catalog import api_keys as catalog
from gateway.catalog.db import Database
from gateway.catalog.models import api_keys
from gateway.core import apikeys
from gateway.core.runtime import Runtime
from gateway.errors import AuthenticationError, InvalidParameterError
from gateway.settings import Settings
from tests.e2e.harness import default_config, write_config

pytestmark = pytest.mark.anyio


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = Settings(config_dir=write_config(tmp_path / "config", default_config()), data_dir=tmp_path / "data")
    runtime = await start_runtime(settings)
    try:
        yield runtime
    finally:
        await runtime.db.dispose()


async def test_only_a_hash_of_the_secret_is_stored(rt: Runtime) -> None:
    record, plaintext = await apikeys.create(rt, "alice", "k", None, None, "test")
    secret = plaintext.split("_", 3)[3]
    assert len(secret) == 64 and int(secret, 16) >= 0  # 256 bits, hex
    async with rt.db.read() as conn:
        rows = (await conn.execute(select(api_keys))).all()
    assert secret not in repr(rows)
    assert rows[0].secret_hash == hashlib.sha256(f"{record.id}:{secret}".encode()).hexdigest()
    assert record.scopes == rt.config.users["alice"].scopes


async def test_scopes_must_be_held_by_the_owner(rt: Runtime) -> None:
    with pytest.raises(InvalidParameterError, match="'scopes'"):
        await apikeys.create(rt, "alice", "k", frozenset({"keys:manage"}), None, "test")


async def test_last_use_is_written_at_most_once_a_minute(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    record, plaintext = await apikeys.create(rt, "alice", "k", None, None, "test")
    clock = [apikeys._now_us()]
    monkeypatch.setattr(apikeys, "_now_us", lambda: clock[0])
    monkeypatch.setattr(apikeys, "CACHE_SECONDS", 0.0)  # read the row every time
    await apikeys.authenticate(rt, plaintext, "127.0.0.1")
    first = (await catalog.get(rt.db, record.id)).last_used_at  # type: ignore[union-attr]
    assert first == clock[0]
    clock[0] += 59_000_000
    await apikeys.authenticate(rt, plaintext, "127.0.0.1")
    assert (await catalog.get(rt.db, record.id)).last_used_at == first  # type: ignore[union-attr]
    clock[0] += 2_000_000
    await apikeys.authenticate(rt, plaintext, "127.0.0.1")
    assert (await catalog.get(rt.db, record.id)).last_used_at == clock[0]  # type: ignore[union-attr]


async def test_revocation_through_another_peer_is_honoured_within_the_cache_second(rt: Runtime) -> None:
    record, plaintext = await apikeys.create(rt, "alice", "k", None, None, "test")
    await apikeys.authenticate(rt, plaintext, "127.0.0.1")  # cached on this peer
    other_peer = Runtime(config=rt.config, db=Database(rt.db.url), mounts=rt.mounts, actions=rt.actions)
    try:
        await apikeys.revoke(other_peer, record.id, "test")
    finally:
        await other_peer.db.dispose()
    await asyncio.sleep(apikeys.CACHE_SECONDS + 0.05)
    with pytest.raises(AuthenticationError):
        await apikeys.authenticate(rt, plaintext, "127.0.0.1")


@pytest.mark.parametrize("presented", ["", "mft_ak_", "mft_ak_zz_" + "0" * 64, "mft_ak_0123456789abcdef_" + "0" * 63])
async def test_malformed_keys_are_refused(rt: Runtime, presented: str) -> None:
    with pytest.raises(AuthenticationError):
        await apikeys.authenticate(rt, presented, "127.0.0.1")
