"""The S3 connector against moto's S3 server (a real HTTP S3 endpoint on loopback)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.connectors import open_connector
from gateway.connectors.base import Connector
from gateway.errors import IntegrityError, InvalidPathError, RemoteNotFoundError
from tests.connectors.peers import MotoS3, connection
from tests.connectors.transfer import GIB_CASE, assert_flat, run_transfer

pytestmark = pytest.mark.anyio
BUCKET = "mft-test"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    server = MotoS3(tmp_path_factory.mktemp("moto")).start()
    try:
        server.create_bucket(BUCKET)
        yield server
    finally:
        server.stop()


def s3_config(moto: MotoS3, **extra: Any) -> dict[str, Any]:
    return {
        "type": "s3",
        "endpoint": moto.endpoint,
        "allow_http": True,
        "bucket": BUCKET,
        "region": "us-east-1",
        "access_key_id": "testing",
        "secret_access_key": "testing-Secret-77",
        "part_size": "5MiB",
        **extra,
    }


def keys(moto: MotoS3, prefix: str = "") -> list[str]:
    """The bucket's keys as S3 itself lists them (ListObjectsV2, no connector involved)."""
    r = httpx.get(f"{moto.endpoint}/{BUCKET}", params={"list-type": "2", "prefix": prefix}, timeout=30)
    assert r.status_code == 200, r.text
    return sorted(part.split("</Key>")[0] for part in r.text.split("<Key>")[1:])


async def chunks(data: bytes, size: int = 1 << 20) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_all(connector: Connector, path: str) -> bytes:
    stream = await connector.open_read(path)
    return b"".join([chunk async for chunk in stream])


async def test_s3_push_list_pull_delete_under_the_prefix(moto: MotoS3) -> None:
    data = os.urandom(1024)
    sha = hashlib.sha256(data).hexdigest()
    connector = open_connector(connection(s3_config(moto, prefix="partners/acme")))
    try:
        result = await connector.write("out/a.bin", chunks(data), size=1024, sha256=sha)
        assert (result.size, result.sha256, result.remote_size_checked) == (1024, sha, True)
        await connector.write("out/b.txt", chunks(b"b"))
        await connector.write("out/deeper/c.bin", chunks(b"c"))
        assert keys(moto, "partners/") == [
            "partners/acme/out/a.bin",
            "partners/acme/out/b.txt",
            "partners/acme/out/deeper/c.bin",
        ]
        listed = await connector.list("out", "*.bin")  # one level: deeper/c.bin is not in "out"
        assert [(e.name, e.path, e.size) for e in listed] == [("a.bin", "out/a.bin", 1024)]
        stream = await connector.open_read("out/a.bin")
        assert (stream.size, stream.sha256) == (1024, sha)  # the SHA-256 travels as object metadata
        assert b"".join([c async for c in stream]) == data
        await connector.delete("out/a.bin")
        assert "partners/acme/out/a.bin" not in keys(moto, "partners/")
        with pytest.raises(RemoteNotFoundError):
            await connector.delete("out/a.bin")
        with pytest.raises(RemoteNotFoundError):
            await connector.open_read("out/a.bin")
        with pytest.raises(InvalidPathError):
            await connector.write("../../escape", chunks(b"x"))
    finally:
        await connector.close()


async def test_s3_multipart_upload_with_a_bad_checksum_publishes_nothing(moto: MotoS3) -> None:
    data = os.urandom(12 * 2**20 + 123)  # three parts of 5 MiB
    sha = hashlib.sha256(data).hexdigest()
    connector = open_connector(connection(s3_config(moto, prefix="mp")))
    try:
        with pytest.raises(IntegrityError, match="SHA-256"):
            await connector.write("big.bin", chunks(data), size=len(data), sha256="f" * 64)
        with pytest.raises(IntegrityError, match="more bytes"):
            await connector.write("big.bin", chunks(data), size=len(data) - 1)
        assert keys(moto, "mp/") == []
        result = await connector.write("big.bin", chunks(data), size=len(data), sha256=sha)
        assert result.sha256 == sha
        assert hashlib.sha256(await read_all(connector, "big.bin")).hexdigest() == sha
    finally:
        await connector.close()
    assert keys(moto, "mp/") == ["mp/big.bin"]


async def test_s3_retried_push_of_the_same_content_is_not_uploaded_again(moto: MotoS3) -> None:
    data = os.urandom(4096)
    sha = hashlib.sha256(data).hexdigest()
    connector = open_connector(connection(s3_config(moto, prefix="retry")))
    consumed = 0

    async def counting() -> AsyncIterator[bytes]:
        nonlocal consumed
        async for chunk in chunks(data, 1024):
            consumed += len(chunk)
            yield chunk

    try:
        await connector.write("r.bin", counting(), size=len(data), sha256=sha)
        assert consumed == len(data)
        consumed = 0
        again = await connector.write("r.bin", counting(), size=len(data), sha256=sha)
        assert consumed == 0 and again.sha256 == sha and again.remote_sha256_checked
        changed = os.urandom(4096)  # other content under the same name replaces it
        await connector.write("r.bin", chunks(changed), size=4096, sha256=hashlib.sha256(changed).hexdigest())
        assert await read_all(connector, "r.bin") == changed
    finally:
        await connector.close()
    assert keys(moto, "retry/") == ["retry/r.bin"]


async def test_s3_wrong_credentials_or_bucket_are_clean_errors(moto: MotoS3) -> None:
    connector = open_connector(connection(s3_config(moto, bucket="no-such-bucket")))
    try:
        with pytest.raises(RemoteNotFoundError) as caught:
            await connector.open_read("x.bin")
    finally:
        await connector.close()
    assert "testing-Secret-77" not in caught.value.message
    assert "testing-Secret-77" not in repr(connection(s3_config(moto)))


@pytest.mark.parametrize(
    "size",
    [pytest.param(100 * 2**20, id="100MiB"), GIB_CASE],
)
def test_s3_large_push_and_pull_verified_with_flat_memory(moto: MotoS3, tmp_path: Path, size: int) -> None:
    report = run_transfer(s3_config(moto, prefix="large", part_size="8MiB"), tmp_path, size, "large.bin")
    print(f"s3 {size} bytes: {report}")
    # At most two 8 MiB parts in flight plus the one being filled, and obstore's buffers.
    assert_flat(report, size, most_kib=64 * 1024)
    assert keys(moto, "large/") == []
