"""The HTTPS connector against a real HTTPS file receiver on loopback (trustme CA), with mTLS."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.connectors import open_connector
from gateway.errors import IntegrityError, InvalidPathError, RemoteError, RemoteNotFoundError
from tests.connectors.peers import FileReceiver, Pki, connection
from tests.connectors.transfer import GIB_CASE, assert_flat, run_transfer

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[FileReceiver]:
    server = FileReceiver(tmp_path_factory.mktemp("https") / "files", pki).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def mtls_receiver(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[FileReceiver]:
    server = FileReceiver(tmp_path_factory.mktemp("mtls") / "files", pki, require_client_cert=True).start()
    try:
        yield server
    finally:
        server.stop()


def https_config(receiver: FileReceiver, pki: Pki, **extra: Any) -> dict[str, Any]:
    return {
        "type": "https",
        "download_url": receiver.url + "/{path}",
        "upload_url": receiver.url + "/{path}",
        "delete_url": receiver.url + "/{path}",
        "headers": {"Authorization": "Bearer https-Token-55"},
        "ca_bundle": str(pki.ca_pem),
        "timeout_seconds": 10,
        **extra,
    }


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_https_put_get_delete_with_headers_and_digests(receiver: FileReceiver, pki: Pki) -> None:
    (receiver.root / "in").mkdir(exist_ok=True)
    data = os.urandom(1024)
    sha = hashlib.sha256(data).hexdigest()
    connector = open_connector(connection(https_config(receiver, pki)))
    receiver.requests.clear()
    try:
        result = await connector.write("in/ä b.bin", chunks(data, 100), size=1024, sha256=sha)
        assert (result.sha256, result.remote_sha256_checked) == (sha, True)  # the receiver echoed Repr-Digest
        assert (receiver.root / "in" / "ä b.bin").read_bytes() == data
        method, path, headers = receiver.requests[-1]
        assert (method, path) == ("PUT", "/files/in/%C3%A4%20b.bin")
        assert headers["authorization"] == "Bearer https-Token-55"
        assert headers["content-length"] == "1024"
        assert headers["content-digest"].startswith("sha-256=:")
        assert len(headers["idempotency-key"]) == 66
        stream = await connector.open_read("in/ä b.bin")
        assert (stream.size, stream.sha256) == (1024, sha)
        assert b"".join([c async for c in stream]) == data
        await connector.delete("in/ä b.bin")
        assert listing(receiver.root / "in") == []
        with pytest.raises(RemoteNotFoundError):
            await connector.open_read("in/ä b.bin")
        with pytest.raises(RemoteNotFoundError):
            await connector.delete("in/ä b.bin")
        with pytest.raises(InvalidPathError):
            await connector.write("../x", chunks(b"x"))
        with pytest.raises(RemoteError, match="cannot list"):
            await connector.list("in")
    finally:
        await connector.close()


async def test_https_post_and_a_retry_after_a_503_leave_one_file(receiver: FileReceiver, pki: Pki) -> None:
    data = os.urandom(300_000)
    sha = hashlib.sha256(data).hexdigest()
    connector = open_connector(connection(https_config(receiver, pki, upload_method="POST")))
    receiver.fail_next.append(503)
    try:
        with pytest.raises(RemoteError, match="HTTP 503") as caught:
            await connector.write("post.bin", chunks(data), size=len(data), sha256=sha)
        assert caught.value.retryable is True
        await connector.write("post.bin", chunks(data), size=len(data), sha256=sha)
    finally:
        await connector.close()
    assert [r[0] for r in receiver.requests[-2:]] == ["POST", "POST"]
    assert receiver.requests[-1][2]["idempotency-key"] == receiver.requests[-2][2]["idempotency-key"]
    assert hashlib.sha256((receiver.root / "post.bin").read_bytes()).hexdigest() == sha
    assert not any(name.endswith(".incoming") for name in listing(receiver.root))


async def test_https_short_stream_is_refused_before_the_receiver_keeps_it(receiver: FileReceiver, pki: Pki) -> None:
    connector = open_connector(connection(https_config(receiver, pki)))
    try:
        with pytest.raises(IntegrityError):
            await connector.write("short.bin", chunks(b"x" * 1000), size=5000)
    finally:
        await connector.close()
    assert not (receiver.root / "short.bin").exists()


async def test_https_untrusted_certificate_is_refused(receiver: FileReceiver, pki: Pki) -> None:
    config = https_config(receiver, pki)
    del config["ca_bundle"]  # the system's CAs do not know the test CA
    connector = open_connector(connection(config))
    try:
        with pytest.raises(RemoteError, match="certificate is not trusted") as caught:
            await connector.write("nope.bin", chunks(b"x"))
    finally:
        await connector.close()
    assert caught.value.retryable is False
    assert "https-Token-55" not in caught.value.message
    assert not (receiver.root / "nope.bin").exists()


async def test_https_mtls_client_certificate(mtls_receiver: FileReceiver, pki: Pki) -> None:
    with_cert = https_config(mtls_receiver, pki, client_cert=str(pki.client_cert), client_key=str(pki.client_key))
    connector = open_connector(connection(with_cert))
    try:
        await connector.write("m.bin", chunks(b"mutual"))
        stream = await connector.open_read("m.bin")
        assert b"".join([c async for c in stream]) == b"mutual"
    finally:
        await connector.close()
    without = open_connector(connection(https_config(mtls_receiver, pki)))
    try:
        # The refusal arrives as a TLS alert, or as a reset connection, depending on timing.
        with pytest.raises(RemoteError, match="TLS failed .*CERTIFICATE_REQUIRED|connection failed"):
            await without.write("m2.bin", chunks(b"x"))
    finally:
        await without.close()
    assert listing(mtls_receiver.root) == ["m.bin"]


@pytest.mark.parametrize("size", [pytest.param(100 * 2**20, id="100MiB"), GIB_CASE])
def test_https_large_push_and_pull_verified_with_flat_memory(
    receiver: FileReceiver, pki: Pki, tmp_path: Path, size: int
) -> None:
    report = run_transfer(https_config(receiver, pki), tmp_path, size, "large.bin")
    print(f"https {size} bytes: {report}")
    assert_flat(report, size, most_kib=32 * 1024)


async def test_https_secrets_stay_out_of_logs_and_errors(
    receiver: FileReceiver, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = https_config(receiver, pki, upload_url=receiver.url + "/{path}?token=url-Token-66")
    connector = open_connector(connection(config))
    try:
        await connector.write("logged.bin", chunks(b"data"))
        with pytest.raises(RemoteNotFoundError) as caught:
            await connector.open_read("missing.bin")
    finally:
        await connector.close()
    assert receiver.requests[-2][1] == "/files/logged.bin?token=url-Token-66"  # the token was sent...
    for secret in ("url-Token-66", "https-Token-55"):  # ...and appears nowhere else
        assert secret not in caplog.text
        assert secret not in caught.value.message
        assert secret not in repr(connection(config))


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [({"token": "tok-1"}, "authorization", "Bearer tok-1"), ({"api_key": "key-2"}, "x-api-key", "key-2")],
)
async def test_gateway_connection_with_a_token_or_api_key_sends_it_and_does_not_log_in(
    receiver: FileReceiver, pki: Pki, auth: dict[str, str], header: str, value: str
) -> None:
    # This receiver is no gateway: it records the request, then answers 404 to the listing.
    base = {"type": "gateway", "url": receiver.url, "ca_bundle": str(pki.ca_pem), "root": "in"}
    connector = open_connector(connection(base | auth))
    receiver.requests.clear()
    try:
        with pytest.raises(RemoteNotFoundError):
            await connector.list("sub")
    finally:
        await connector.close()
    [(method, path, headers)] = receiver.requests
    assert (method, path.split("?")[0]) == ("GET", "/files/2.0/directories/in/sub")
    assert headers[header] == value
