"""The SFTP connector against OpenSSH's sshd and an asyncssh server that injects faults."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from gateway.connectors import open_connector
from gateway.connectors.base import Connector
from gateway.errors import HostKeyError, IntegrityError, InvalidPathError, RemoteError, RemoteNotFoundError
from tests.connectors.peers import PASSWORD, FaultSftp, Sshd, connection
from tests.connectors.transfer import GIB_CASE, assert_flat, run_transfer

pytestmark = pytest.mark.anyio


@pytest.fixture
def faulty(fault_sftp: FaultSftp) -> Iterator[FaultSftp]:
    fault_sftp.faults.reset()
    for child in fault_sftp.root.iterdir():
        if child.is_file():
            child.unlink()
    yield fault_sftp
    fault_sftp.faults.reset()


def sshd_config(sshd: Sshd, **extra: Any) -> dict[str, Any]:
    return {
        "type": "sftp",
        "host": "127.0.0.1",
        "port": sshd.port,
        "username": os.environ.get("USER") or __import__("getpass").getuser(),
        "private_key": str(sshd.client_key_path),
        "host_keys": [sshd.host_key_line],
        "timeout_seconds": 10,
        **extra,
    }


def fault_config(server: FaultSftp, **extra: Any) -> dict[str, Any]:
    return {
        "type": "sftp",
        "host": "127.0.0.1",
        "port": server.port,
        "username": "mft",
        "password": PASSWORD,
        "host_keys": [server.host_key_line],
        "timeout_seconds": 5,
        "chunk_size": "64KiB",
        **extra,
    }


async def chunks(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_all(connector: Connector, path: str) -> bytes:
    stream = await connector.open_read(path)
    return b"".join([chunk async for chunk in stream])


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_sftp_sshd_push_list_pull_delete_1kib(sshd: Sshd) -> None:
    (sshd.root / "inbox").mkdir(exist_ok=True)
    data = os.urandom(1024)
    sha = hashlib.sha256(data).hexdigest()
    connector = open_connector(connection(sshd_config(sshd)))
    try:
        result = await connector.write("inbox/a.bin", chunks(data, 300), size=1024, sha256=sha)
        assert (result.path, result.size, result.sha256, result.remote_size_checked) == ("inbox/a.bin", 1024, sha, True)
        assert (sshd.root / "inbox" / "a.bin").read_bytes() == data
        assert files_in(sshd.root / "inbox") == ["a.bin"]  # the temporary name is gone
        (sshd.root / "inbox" / "b.txt").write_text("b")
        listed = await connector.list("inbox", "*.bin")
        assert [(e.name, e.path, e.size) for e in listed] == [("a.bin", "inbox/a.bin", 1024)]
        assert listed[0].mtime is not None
        assert [e.name for e in await connector.list("/inbox/")] == ["a.bin", "b.txt"]
        stream = await connector.open_read("inbox/a.bin")
        assert stream.size == 1024
        assert b"".join([c async for c in stream]) == data
        await connector.delete("inbox/a.bin")
        assert files_in(sshd.root / "inbox") == ["b.txt"]
        with pytest.raises(RemoteNotFoundError):
            await connector.delete("inbox/a.bin")
        with pytest.raises(RemoteNotFoundError):
            await connector.open_read("inbox/nothing.bin")
    finally:
        await connector.close()


async def test_sftp_sshd_unknown_host_key_is_refused_and_nothing_is_sent(sshd: Sshd) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    connector = open_connector(connection(sshd_config(sshd, host_keys=[other])))
    try:
        with pytest.raises(HostKeyError) as caught:
            await connector.write("refused.bin", chunks(b"x" * 10))
    finally:
        await connector.close()
    presented = asyncssh.import_public_key(sshd.host_key_line).get_fingerprint("sha256")
    assert presented in caught.value.message  # the operator can compare what the server showed
    assert "not one of the pinned host_keys" in caught.value.message
    assert caught.value.retryable is False
    assert not (sshd.root / "refused.bin").exists()


async def test_sftp_paths_cannot_leave_the_root(sshd: Sshd) -> None:
    connector = open_connector(connection(sshd_config(sshd)))
    try:
        for bad in ("../escape.bin", "inbox/../../escape.bin", "a/./b", "a\\b", "", "/"):
            with pytest.raises(InvalidPathError):
                await connector.write(bad, chunks(b"x"))
        with pytest.raises(InvalidPathError):
            await connector.list("..")
        with pytest.raises(InvalidPathError):
            await connector.open_read("inbox/..")
        # A leading slash means the connection's root, not the server's.
        await connector.write("/top.bin", chunks(b"top"))
        assert (sshd.root / "top.bin").read_bytes() == b"top"
        await connector.delete("/top.bin")
    finally:
        await connector.close()
    assert not (sshd.root.parent / "escape.bin").exists()


async def test_sftp_wrong_checksum_publishes_nothing(sshd: Sshd) -> None:
    (sshd.root / "chk").mkdir(exist_ok=True)
    data = os.urandom(5000)
    connector = open_connector(connection(sshd_config(sshd, root=str(sshd.root / "chk"))))
    try:
        with pytest.raises(IntegrityError, match="SHA-256"):
            await connector.write("f.bin", chunks(data), size=len(data), sha256="0" * 64)
        with pytest.raises(IntegrityError, match="bytes instead of"):
            await connector.write("f.bin", chunks(data), size=len(data) + 1)
        with pytest.raises(IntegrityError, match="more bytes"):
            await connector.write("f.bin", chunks(data), size=10)
    finally:
        await connector.close()
    assert files_in(sshd.root / "chk") == []


async def test_sftp_dropped_connection_then_retry_leaves_one_complete_file(faulty: FaultSftp) -> None:
    data = os.urandom(1_000_000)
    sha = hashlib.sha256(data).hexdigest()
    faulty.faults.drop_after, faulty.faults.drops_left = 300_000, 1
    connector = open_connector(connection(fault_config(faulty)))
    try:
        with pytest.raises(RemoteError) as caught:
            await connector.write("big.bin", chunks(data), size=len(data), sha256=sha)
        assert caught.value.retryable is True
        assert not (faulty.root / "big.bin").exists()
        # The step's retry: the same connector reconnects, the part is overwritten, then renamed.
        result = await connector.write("big.bin", chunks(data), size=len(data), sha256=sha)
        assert result.sha256 == sha
    finally:
        await connector.close()
    assert files_in(faulty.root) == ["big.bin"]
    assert hashlib.sha256((faulty.root / "big.bin").read_bytes()).hexdigest() == sha


async def test_sftp_full_disk_is_a_clean_error_without_a_final_file(faulty: FaultSftp) -> None:
    (faulty.root / "keep.bin").write_bytes(b"old content")
    faulty.faults.full_after = 200_000
    connector = open_connector(connection(fault_config(faulty)))
    try:
        with pytest.raises(RemoteError, match="No space left on device") as caught:
            await connector.write("keep.bin", chunks(os.urandom(500_000)), size=500_000)
        assert not isinstance(caught.value, IntegrityError)
    finally:
        await connector.close()
    assert files_in(faulty.root) == ["keep.bin"]  # the part was removed, the old file untouched
    assert (faulty.root / "keep.bin").read_bytes() == b"old content"


async def test_sftp_slow_server_within_timeout_completes_and_stalled_one_times_out(faulty: FaultSftp) -> None:
    data = os.urandom(200_000)
    faulty.faults.write_delay = 0.05
    connector = open_connector(connection(fault_config(faulty)))
    try:
        await connector.write("slow.bin", chunks(data), size=len(data))
        assert (faulty.root / "slow.bin").read_bytes() == data
    finally:
        await connector.close()
    faulty.faults.write_delay = 3.0
    connector = open_connector(connection(fault_config(faulty, timeout_seconds=0.5)))
    try:
        with pytest.raises(RemoteError, match="no answer within 0.5s") as caught:
            await connector.write("stalled.bin", chunks(data), size=len(data))
        assert caught.value.retryable is True
    finally:
        await connector.close()
    assert not (faulty.root / "stalled.bin").exists()


async def test_sftp_without_posix_rename_still_replaces_the_file(faulty: FaultSftp) -> None:
    (faulty.root / "r.bin").write_bytes(b"old")
    faulty.faults.no_posix_rename = True
    connector = open_connector(connection(fault_config(faulty)))
    try:
        await connector.write("r.bin", chunks(b"new content"))
        await connector.write("r.bin", chunks(b"newer content"))  # a repeated push: still one file
        assert await read_all(connector, "r.bin") == b"newer content"
    finally:
        await connector.close()
    assert files_in(faulty.root) == ["r.bin"]


async def test_sftp_refused_password_is_not_retryable_and_not_shown(faulty: FaultSftp) -> None:
    connector = open_connector(connection(fault_config(faulty, password="wrong-Secret-99")))
    try:
        with pytest.raises(RemoteError) as caught:
            await connector.list()
    finally:
        await connector.close()
    assert caught.value.retryable is False
    assert "refused the login of 'mft'" in caught.value.message
    assert "wrong-Secret-99" not in caught.value.message
    assert "wrong-Secret-99" not in repr(connection(fault_config(faulty, password="wrong-Secret-99")))


@pytest.mark.parametrize(
    "size",
    [pytest.param(100 * 2**20, id="100MiB"), GIB_CASE],
)
def test_sftp_sshd_large_push_and_pull_verified_with_flat_memory(sshd: Sshd, tmp_path: Path, size: int) -> None:
    report = run_transfer(sshd_config(sshd), tmp_path, size, "large.bin")
    print(f"sftp {size} bytes: {report}")
    assert_flat(report, size, most_kib=32 * 1024)
    assert not (sshd.root / "large.bin").exists()


async def test_sftp_cancelled_write_removes_its_part_and_publishes_nothing(faulty: FaultSftp) -> None:
    faulty.faults.write_delay = 0.2
    connector = open_connector(connection(fault_config(faulty)))
    try:
        task = asyncio.ensure_future(connector.write("aborted.bin", chunks(os.urandom(2_000_000)), size=2_000_000))
        for _ in range(200):  # until the part is being written (the machine may be busy)
            if any(p.name.endswith(".mftpart") for p in faulty.root.iterdir()):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the write never started")
        await asyncio.sleep(0.3)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await connector.close()
    assert files_in(faulty.root) == []


async def test_sftp_sshd_passphrase_protected_key_from_the_environment_style_inline_text(sshd: Sshd) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    with (sshd.directory / "authorized_keys").open("ab") as keys:
        keys.write(key.export_public_key())
    pem = key.export_private_key(passphrase="key-Phrase-8").decode()  # as ${SFTP_KEY} would hand it over
    config = sshd_config(sshd, private_key=pem, private_key_passphrase="key-Phrase-8")
    connector = open_connector(connection(config))
    try:
        await connector.write("pp.txt", chunks(b"with a passphrase"))
        assert await read_all(connector, "pp.txt") == b"with a passphrase"
        await connector.delete("pp.txt")
    finally:
        await connector.close()
    assert "key-Phrase-8" not in repr(connection(config)) and "BEGIN" not in repr(connection(config))
