"""The agent's /2.0 side (gateway/agent/partner.py) against the real gateway: a bearer token from
its key, streamed multipart upload, HEAD stat with the SHA-256, Range-resumed download, and a stop
in the middle of an upload leaving nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.agent.partner import CHUNK, Partner, Stopped, vfs_url
from tests.e2e.agent_world import agent_config, api_key_for
from tests.e2e.harness import Gateway, running


@pytest.fixture(scope="module")
def gateway(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = Gateway(root=tmp_path_factory.mktemp("gw"), database_url=catalog_url, config=agent_config(enrollments=False))
    with running(gw):
        yield gw


@pytest.fixture(scope="module")
def key(gateway: Gateway) -> str:
    with contextlib.closing(gateway.client("root")) as admin:
        return api_key_for(admin, "alice")


async def _noop(_: int) -> None:
    return None


def _never() -> bool:
    return False


def test_vfs_url_encodes_each_segment_once() -> None:
    assert vfs_url("/inbox/a b/c%d.txt") == "inbox/a%20b/c%25d.txt"
    assert vfs_url("inbox//x/") == "inbox/x"


def test_upload_stat_download_round_trip(gateway: Gateway, key: str, tmp_path: Path) -> None:
    data = os.urandom(3 * CHUNK + 17)
    source = tmp_path / "round trip.bin"
    source.write_bytes(data)
    seen: list[int] = []

    async def progress(done: int) -> None:
        seen.append(done)

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            partner = Partner(client, key)
            sent = await partner.upload(source, "/inbox/round trip.bin", progress, _never)
            assert sent == hashlib.sha256(data).hexdigest()
            stat = await partner.stat("/inbox/round trip.bin")
            assert stat is not None and (stat.size, stat.sha256) == (len(data), sent)
            assert "round trip.bin" in await partner.files("/inbox")
            assert await partner.stat("/inbox/absent.bin") is None
            part = tmp_path / ".back.part"
            got = await partner.download("/inbox/round trip.bin", part, _noop, _never)
            assert got.sha256 == sent and part.read_bytes() == data

    asyncio.run(scenario())
    assert seen[-1] == len(data) and seen == sorted(seen)


def test_download_resumes_from_the_partial_file(gateway: Gateway, key: str, tmp_path: Path) -> None:
    data = os.urandom(4 * CHUNK)
    (tmp_path / "big.bin").write_bytes(data)
    part = tmp_path / ".big.part"

    async def scenario() -> list[int]:
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            partner = Partner(client, key)
            await partner.upload(tmp_path / "big.bin", "/inbox/big.bin", _noop, _never)
            calls = 0

            def stop_after_first_chunk() -> bool:
                nonlocal calls
                calls += 1
                return calls >= 1

            with pytest.raises(Stopped):
                await partner.download("/inbox/big.bin", part, _noop, stop_after_first_chunk)
            assert 0 < part.stat().st_size < len(data)
            seen: list[int] = []

            async def progress(done: int) -> None:
                seen.append(done)

            await partner.download("/inbox/big.bin", part, progress, _never)
            return seen

    seen = asyncio.run(scenario())
    assert part.read_bytes() == data
    assert seen[0] > CHUNK // 2  # the second request started where the first stopped (206)


def test_stop_during_upload_leaves_no_file(gateway: Gateway, key: str, tmp_path: Path) -> None:
    source = tmp_path / "cut.bin"
    source.write_bytes(os.urandom(4 * CHUNK))
    sent: list[int] = []

    async def progress(done: int) -> None:
        sent.append(done)

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            partner = Partner(client, key)
            with pytest.raises(Stopped):
                await partner.upload(source, "/inbox/cut.bin", progress, lambda: len(sent) >= 2)
            assert await partner.stat("/inbox/cut.bin") is None

    asyncio.run(scenario())


def test_a_refused_key_is_a_401_at_token(gateway: Gateway, tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"x")

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            partner = Partner(client, "mft_ak_" + "0" * 16 + "_" + "0" * 64)
            with pytest.raises(Exception, match="401"):
                await partner.stat("/inbox/x")

    asyncio.run(scenario())
