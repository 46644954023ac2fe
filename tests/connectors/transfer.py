"""Push then pull one local file through a connector in a fresh process, reporting its peak memory.

Run by the large-transfer tests as ``python -m tests.connectors.transfer <json>`` so that the
peak resident set (VmHWM) belongs to the transfer alone: a 1 KiB round trip first loads every
library and opens the connection, then the peak is read before and after the big file went out
and came back. Prints one JSON object (sizes in KiB, times in seconds, both SHA-256 values).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiofiles
import pytest

from gateway.connectors import open_connector
from tests.connectors.peers import connection

CHUNK = 1 << 20
# The 1 GiB cases run by default (about 40-60 s each on a shared 2-core machine): the source, its
# pulled copy and the remote copy need about 3 GiB, so they are skipped only when the temporary
# folder's disk has less than 8 GiB free. Deselect them with ``-m "not slow"``.
MIN_FREE_BYTES = 8 * 2**30


def _free_bytes() -> int:
    return shutil.disk_usage(tempfile.gettempdir()).free


GIB_CASE = pytest.param(
    2**30,
    id="1GiB",
    marks=[
        pytest.mark.slow,
        pytest.mark.skipif(_free_bytes() < MIN_FREE_BYTES, reason="1 GiB transfers need 8 GiB of free disk"),
    ],
)


def vm_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field}")


async def read_file(path: Path) -> AsyncIterator[bytes]:
    async with aiofiles.open(path, "rb") as f:
        while block := await f.read(CHUNK):
            yield block


async def main(args: dict[str, Any]) -> dict[str, Any]:
    source, target, remote = Path(args["source"]), Path(args["target"]), args["remote"]
    size, sha = args["size"], args["sha256"]
    connector = open_connector(connection(args["connection"]))
    try:
        warm = b"w" * 1024
        await connector.write(remote + ".warm", read_bytes(warm), 1024, hashlib.sha256(warm).hexdigest())
        stream = await connector.open_read(remote + ".warm")
        assert b"".join([chunk async for chunk in stream]) == warm
        await connector.delete(remote + ".warm")
        report: dict[str, Any] = {"hwm_start": vm_kib("VmHWM"), "rss_start": vm_kib("VmRSS")}
        started = time.monotonic()
        result = await connector.write(remote, read_file(source), size, sha)
        report["push_seconds"] = round(time.monotonic() - started, 2)
        report["pushed_sha256"] = result.sha256
        report["hwm_after_push"] = vm_kib("VmHWM")
        started = time.monotonic()
        digest = hashlib.sha256()
        stream = await connector.open_read(remote)
        async with aiofiles.open(target, "wb") as out:
            async for chunk in stream:
                digest.update(chunk)
                await out.write(chunk)
        report["pull_seconds"] = round(time.monotonic() - started, 2)
        report["pulled_sha256"] = digest.hexdigest()
        report["hwm_after_pull"] = vm_kib("VmHWM")
        await connector.delete(remote)
        return report
    finally:
        await connector.close()


async def read_bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


def run_transfer(connection_body: dict[str, Any], directory: Path, size: int, remote: str) -> dict[str, Any]:
    """Make a ``size``-byte file, push and pull it in a subprocess; return its report + the sha."""
    from tests.connectors.peers import make_file

    source, target = directory / "source.bin", directory / "pulled.bin"
    sha = make_file(source, size)
    args: dict[str, Any] = {"connection": connection_body, "source": str(source), "target": str(target)}
    args |= {"remote": remote, "size": size, "sha256": sha}
    done = subprocess.run(
        [sys.executable, "-m", "tests.connectors.transfer", json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["sha256"] = sha
    report["target_size"] = target.stat().st_size
    source.unlink()
    target.unlink()
    return report


def assert_flat(report: dict[str, Any], size: int, most_kib: int) -> None:
    """Both SHA-256 values are the source's, and the peak memory grew by at most ``most_kib``."""
    assert report["pushed_sha256"] == report["sha256"]
    assert report["pulled_sha256"] == report["sha256"]
    assert report["target_size"] == size
    growth = report["hwm_after_pull"] - report["hwm_start"]
    assert growth <= most_kib, report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
