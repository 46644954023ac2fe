"""The connector to another gateway of ours: a second real gateway (tests/e2e/harness.py) over HTTPS."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.connectors import connected, open_connector
from gateway.connectors.base import Connector
from gateway.connectors.peer import PeerGatewayConnector
from gateway.errors import IntegrityError, InvalidPathError, RemoteError, RemoteNotFoundError
from tests.connectors.peers import Pki, connection
from tests.connectors.transfer import GIB_CASE, assert_flat, run_transfer
from tests.e2e.harness import Gateway, password, running

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Gateway]:
    gw = Gateway(tmp_path_factory.mktemp("peer-gateway"), tls=(pki.server_cert, pki.server_key))
    with running(gw):
        yield gw


def peer_config(peer: Gateway, pki: Pki, **extra: Any) -> dict[str, Any]:
    return {
        "type": "gateway",
        "url": peer.url,
        "username": "alice",
        "password": password("alice"),
        "root": "/inbox",
        "ca_bundle": str(pki.ca_pem),
        "timeout_seconds": 30,
        **extra,
    }


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def names(connector: Connector, folder: str = "", glob: str = "*") -> list[str]:
    return [e.name for e in await connector.list(folder, glob)]


async def test_peer_push_list_pull_delete_verified_both_ways(peer: Gateway, pki: Pki) -> None:
    data = os.urandom(1024)
    sha = hashlib.sha256(data).hexdigest()
    async with connected(connection(peer_config(peer, pki))) as connector:
        result = await connector.write("a.bin", chunks(data, 100), size=1024, sha256=sha)
        assert (result.path, result.size, result.sha256) == ("a.bin", 1024, sha)
        assert result.remote_size_checked and result.remote_sha256_checked  # read back with HEAD
        await connector.write("a.bin", chunks(data), size=1024, sha256=sha)  # a retried push
        await connector.write("b.txt", chunks(b"bee"))
        entries = await connector.list("", "*.bin")
        assert [(e.name, e.path, e.size) for e in entries] == [("a.bin", "a.bin", 1024)]
        assert entries[0].mtime is not None
        assert await names(connector) == ["a.bin", "b.txt"]  # one a.bin; the folder "archive" is left out
        stream = await connector.open_read("a.bin")
        assert (stream.size, stream.sha256) == (1024, sha)  # from Content-Length and Repr-Digest
        assert b"".join([c async for c in stream]) == data
        await connector.delete("a.bin")
        await connector.delete("b.txt")
        assert await names(connector) == []
        with pytest.raises(RemoteNotFoundError):
            await connector.delete("a.bin")
        with pytest.raises(RemoteNotFoundError):
            await connector.open_read("a.bin")
        with pytest.raises(InvalidPathError):
            await connector.write("../outbox/x", chunks(b"x"))


async def test_peer_wrong_checksum_leaves_no_file_on_the_peer(peer: Gateway, pki: Pki) -> None:
    data = os.urandom(3 * 2**20)
    connector = open_connector(connection(peer_config(peer, pki)))
    try:
        with pytest.raises(IntegrityError):
            await connector.write("bad.bin", chunks(data), size=len(data), sha256="0" * 64)
        assert await names(connector) == []
    finally:
        await connector.close()


async def test_peer_logs_in_again_after_the_session_ended(peer: Gateway, pki: Pki) -> None:
    connector = open_connector(connection(peer_config(peer, pki)))
    assert isinstance(connector, PeerGatewayConnector)
    try:
        await connector.write("s.txt", chunks(b"session"))
        logout = await connector._client.post(f"{peer.url}/2.0/logout")  # the session ends on the peer
        assert logout.status_code == 200
        assert await names(connector) == ["s.txt"]
        stream = await connector.open_read("s.txt")
        assert b"".join([c async for c in stream]) == b"session"
        await connector.delete("s.txt")
    finally:
        await connector.close()


async def test_peer_refused_login_and_acl_are_not_retryable(peer: Gateway, pki: Pki, tmp_path: Path) -> None:
    connector = open_connector(connection(peer_config(peer, pki, password="wrong-Secret-31")))
    try:
        with pytest.raises(RemoteError) as caught:
            await connector.list()
    finally:
        await connector.close()
    assert caught.value.retryable is False and "wrong-Secret-31" not in caught.value.message
    bob = open_connector(connection(peer_config(peer, pki, username="bob", password=password("bob"))))
    try:
        with pytest.raises(RemoteError, match="HTTP 403") as denied:
            await bob.write("x.bin", chunks(b"x"))  # bob may only list /inbox
        assert denied.value.retryable is False
    finally:
        await bob.close()


@pytest.mark.parametrize("size", [pytest.param(100 * 2**20, id="100MiB"), GIB_CASE])
def test_peer_large_push_and_pull_verified_with_flat_memory(peer: Gateway, pki: Pki, tmp_path: Path, size: int) -> None:
    peer_before = peer.hwm_kib()
    report = run_transfer(peer_config(peer, pki), tmp_path, size, "large.bin")
    print(f"gateway {size} bytes: {report}; peer VmHWM {peer_before} -> {peer.hwm_kib()} KiB")
    assert_flat(report, size, most_kib=32 * 1024)
    assert peer.hwm_kib() - peer_before <= 32 * 1024  # the receiving gateway streamed it too
