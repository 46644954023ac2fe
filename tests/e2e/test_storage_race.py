"""The storage root's directories swapped for symlinks while partners upload (bounded race).

A process able to rename entries inside the storage root atomically swaps ``tmp/``, ``objects/`` and
``objects/<xx>/`` for symlinks to a directory outside, and back, in a tight loop for a few
seconds while two clients upload. Whatever the interleaving: every upload answered 201 is
downloadable with its bytes, nothing is ever created outside the root, no temp file is left
behind, and no request fails with an unforeseen error.
"""

from __future__ import annotations

import ctypes
import os
import random
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.harness import Gateway
from tests.e2e.test_hostile_paths import download, login, upload

pytestmark = pytest.mark.e2e
RACE_SECONDS = 4.0


_libc = ctypes.CDLL(None, use_errno=True)
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> None:
    """Swap two names atomically (renameat2 RENAME_EXCHANGE): the attacker's best tool."""
    if _libc.renameat2(_AT_FDCWD, bytes(a), _AT_FDCWD, bytes(b), _RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(a))


def _swap(storage: Path, rel: str, outside: Path) -> None:
    """Swap ``storage/rel`` for a symlink to ``outside/rel`` for a moment, then swap it back."""
    real, link = storage / rel, storage / (rel + ".link")
    os.symlink(outside / rel, link, target_is_directory=True)
    try:
        _exchange(real, link)
        time.sleep(random.choice((0, 0.0005, 0.002)))
        _exchange(real, link)
    finally:
        os.unlink(link)


def _files_under(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if not p.is_dir())


def test_symlink_swap_race_while_uploading(tmp_path: Path) -> None:
    gw = Gateway(root=tmp_path / "gw").start()
    try:
        alice = login(gw, "alice")
        storage = gw.data_dir / "storage"
        assert upload(gw.port, alice, b"inbox/warm-up", b"layout").status == 201
        for i in range(256):
            (storage / "objects" / f"{i:02x}").mkdir(exist_ok=True)
        outside = tmp_path / "outside"
        for rel in ("tmp", "objects", *(f"objects/{i:02x}" for i in range(256))):
            (outside / rel).mkdir(parents=True, exist_ok=True)

        stop = threading.Event()
        swaps = 0

        def swapper() -> None:
            nonlocal swaps
            while not stop.is_set():
                choice = random.random()
                rel = "tmp" if choice < 0.4 else "objects" if choice < 0.6 else f"objects/{random.randrange(256):02x}"
                _swap(storage, rel, outside)
                swaps += 1

        acknowledged: dict[str, bytes] = {}
        statuses: dict[int, int] = {}
        lock = threading.Lock()

        def uploader(tag: int) -> None:
            n = 0
            while not stop.is_set():
                name = f"race-{tag}-{n}-{uuid.uuid4().hex[:8]}"
                content = os.urandom(random.choice((100, 5000, 70_000, 300_000)))
                r = upload(gw.port, alice, f"inbox/{name}".encode(), content)
                with lock:
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                    if r.status == 201:
                        acknowledged[name] = content
                assert r.status in (201, 400, 500, 503), r.describe()
                assert b"Traceback" not in r.body
                n += 1

        threads = [threading.Thread(target=swapper), *(threading.Thread(target=uploader, args=(i,)) for i in range(2))]
        for t in threads:
            t.start()
        time.sleep(RACE_SECONDS)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert swaps > 100, swaps
        assert acknowledged, statuses  # the race leaves enough windows for some uploads to succeed

        lost = []
        for name, content in acknowledged.items():
            got = download(gw.port, alice, f"inbox/{name}".encode())
            if got.status != 200 or got.body != content:
                lost.append((name, got.status))
        assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged uploads are not readable: {lost[:5]}"
        assert _files_under(outside) == [], "bytes were written outside the storage root"
        assert not list(storage.glob("*.link")) and not any(p.is_symlink() for p in storage.rglob("*"))
        assert [p.name for p in (storage / "tmp").iterdir()] == [], "a refused upload left its temp file"
        objects = {p.name for p in (storage / "objects").rglob("*") if p.is_file()}
        assert len(objects) == len(acknowledged) + 1, (len(objects), len(acknowledged), statuses)
        log = gw.log()  # refusals are logged (with their OS error); nothing unforeseen is
        assert "unhandled error" not in log, log[log.index("unhandled error") - 300 :][:3000]
    finally:
        gw.stop()
