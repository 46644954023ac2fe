"""Local-disk storage backend, against real files under tmp_path."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.errors import (
    InvalidPathError,
    IoError,
    LimitExceededError,
    NotFoundError,
    QuotaExceededError,
    UnavailableError,
)
from gateway.storage.base import CHUNK_SIZE, ObjectReader, ObjectWriter, StorageBackend
from gateway.storage.errors import map_os_errors
from gateway.storage.local import PREFETCH_MAX, LocalBackend, LocalObjectWriter, _hostname
from tests.handoffs import thread_handoffs

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the backend uses asyncio.to_thread


@pytest.fixture(params=[True, False], ids=["durable", "nondurable"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> LocalBackend:
    root = tmp_path / "store"
    root.mkdir()
    return LocalBackend("local", root, durable=request.param)


def _payload(size: int) -> bytes:
    return (b"0123456789abcdefghijklmnopqrstuvwxyz" * (size // 36 + 1))[:size]


async def _store(backend: LocalBackend, data: bytes, piece: int = 65_537) -> tuple[str, int, str]:
    writer = await backend.open_write()
    for i in range(0, len(data), piece):
        await writer.write(data[i : i + piece])
    stored = await writer.commit()
    return stored.key, stored.size, stored.sha256


async def _read(backend: LocalBackend, key: str, start: int = 0, length: int | None = None) -> bytes:
    reader = await backend.open_read(key)
    try:
        n = reader.size - start if length is None else length
        return b"".join([chunk async for chunk in reader.iter_range(start, n)])
    finally:
        await reader.close()


def _files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if not p.is_dir()] if directory.exists() else []


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _valid_key(prefix: str = "ab") -> str:
    return f"objects/{prefix}/{prefix}" + "0" * 30


def test_local_backend_satisfies_protocols(tmp_path: Path) -> None:
    backend: StorageBackend = LocalBackend("local", tmp_path)
    assert backend.name == "local"
    writer: type[ObjectWriter] = LocalObjectWriter
    assert writer is LocalObjectWriter


async def test_roundtrip_small_file_sha256_matches_hashlib(backend: LocalBackend) -> None:
    data = b"hello, partner\n"
    key, size, sha = await _store(backend, data)
    assert size == len(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert key.startswith(f"objects/{key[-32:-30]}/") and len(key) == 43
    assert (backend.root / key).read_bytes() == data
    assert await _read(backend, key) == data
    assert _files(backend.root / "tmp") == []


async def test_roundtrip_empty_file_commits_zero_bytes(backend: LocalBackend) -> None:
    key, size, sha = await _store(backend, b"")
    assert (size, sha) == (0, hashlib.sha256(b"").hexdigest())
    reader = await backend.open_read(key)
    assert reader.size == 0
    assert [c async for c in reader.iter_range(0, 0)] == []
    await reader.close()


async def test_roundtrip_multi_mib_odd_chunks_matches(backend: LocalBackend) -> None:
    data = os.urandom(3 * MIB + 12_345)
    writer = await backend.open_write()
    sizes = [1, 65_537, CHUNK_SIZE + 3, 999_999, 7]
    pos, i = 0, 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        await writer.write(data[pos : pos + n])
        pos, i = pos + n, i + 1
        assert writer.size == min(pos, len(data))
    stored = await writer.commit()
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await _read(backend, stored.key) == data


async def test_pieces_of_every_kind_are_stored_as_given_even_if_the_caller_reuses_its_buffer(
    backend: LocalBackend,
) -> None:
    """Big immutable pieces are written by reference, others copied: a caller refilling one
    bytearray between writes (views of it) must not change what was already written."""
    reused = bytearray(40_000)
    expected = bytearray()
    writer = await backend.open_write()
    for i in range(60):  # > 2 MiB: several batches handed to the worker threads
        reused[:] = bytes([i]) * len(reused)
        piece = (memoryview(reused), memoryview(reused)[5:], memoryview(os.urandom(70_000)), memoryview(b"x" * 9))[
            i % 4
        ]
        expected += piece
        await writer.write(piece)
    for _ in range(5000):  # a trickle of tiny pieces
        await writer.write(b"0123456789")
        expected += b"0123456789"
    stored = await writer.commit()
    assert stored.sha256 == hashlib.sha256(expected).hexdigest()
    assert await _read(backend, stored.key) == bytes(expected)


async def test_short_writev_calls_are_continued_where_they_stopped(
    backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write may take fewer bytes than asked (a signal, a quota edge): the rest follows."""
    real = os.writev

    def short(fd: int, buffers: list[memoryview]) -> int:
        return real(fd, [buffers[0][:777]])

    monkeypatch.setattr(os, "writev", short)
    data = os.urandom(2 * MIB + 4321)
    key, size, sha = await _store(backend, data, piece=100_003)
    assert (size, sha) == (len(data), hashlib.sha256(data).hexdigest())
    assert await _read(backend, key) == data


@pytest.mark.parametrize(
    ("start", "length"),
    [(0, 0), (0, 1), (1000, 2000), (2 * MIB + 99, 1), (2 * MIB + 100, 0), (0, 2 * MIB + 100), (MIB - 1, MIB + 2)],
    ids=["empty", "first-byte", "middle", "last-byte", "empty-at-end", "full", "across-chunks"],
)
async def test_iter_range_edges_return_exact_slice(backend: LocalBackend, start: int, length: int) -> None:
    data = os.urandom(2 * MIB + 100)
    key, _, _ = await _store(backend, data, piece=MIB // 3)
    reader = await backend.open_read(key)
    chunks = [c async for c in reader.iter_range(start, length)]
    await reader.close()
    assert b"".join(chunks) == data[start : start + length]
    assert all(0 < len(c) <= CHUNK_SIZE for c in chunks)


async def test_iter_range_small_chunk_size_yields_bounded_chunks(backend: LocalBackend) -> None:
    key, _, _ = await _store(backend, b"abcdefghij")
    reader = await backend.open_read(key)
    chunks = [c async for c in reader.iter_range(2, 7, chunk_size=3)]
    await reader.close()
    assert chunks == [b"cde", b"fgh", b"i"]


@pytest.mark.parametrize(("start", "length", "chunk"), [(-1, 1, 10), (0, 11, 10), (10, 1, 10), (0, 1, 0)])
async def test_iter_range_outside_file_raises_value_error(
    backend: LocalBackend, start: int, length: int, chunk: int
) -> None:
    key, _, _ = await _store(backend, b"abcdefghij")
    reader = await backend.open_read(key)
    with pytest.raises(ValueError):
        async for _ in reader.iter_range(start, length, chunk):
            pass
    await reader.close()


async def test_iter_range_truncated_file_raises_io_error(backend: LocalBackend) -> None:
    size = PREFETCH_MAX + 10  # streamed from the file, not prefetched
    key, _, _ = await _store(backend, b"a" * size)
    reader = await backend.open_read(key)
    assert reader.local_path == str(backend.root / key)
    os.truncate(backend.root / key, 4)
    with pytest.raises(IoError, match="^Could not read the file$"):
        async for _ in reader.iter_range(0, size):
            pass
    await reader.close()


@pytest.mark.parametrize("size", [0, 1, PREFETCH_MAX])
async def test_small_object_is_read_while_opening(backend: LocalBackend, size: int) -> None:
    """A small object is read whole in the open's worker hand-off: a download needs no further
    disk access, so even the object's removal right after the open cannot cut it short."""
    data = os.urandom(size)
    key, _, _ = await _store(backend, data)
    reader = await backend.open_read(key)
    assert reader.local_path is None
    await backend.delete(key)
    assert b"".join([c async for c in reader.iter_range(0, size, chunk_size=1000)]) == data
    assert b"".join([c async for c in reader.iter_range(size // 3, size - size // 3)]) == data[size // 3 :]
    await reader.close()


async def test_symlink_in_place_of_an_object_is_not_followed(backend: LocalBackend, tmp_path: Path) -> None:
    key, _, _ = await _store(backend, b"mine")
    victim = tmp_path / "victim"
    victim.write_bytes(b"secret")
    (backend.root / key).unlink()
    (backend.root / key).symlink_to(victim)
    with pytest.raises(IoError):
        await backend.open_read(key)
    await backend.delete(key)  # removes the link, never its target
    assert victim.read_bytes() == b"secret"


async def test_reader_close_twice_is_harmless(backend: LocalBackend) -> None:
    key, _, _ = await _store(backend, b"x")
    reader: ObjectReader = await backend.open_read(key)
    await reader.close()
    await reader.close()


async def test_abort_after_writes_leaves_no_files(backend: LocalBackend) -> None:
    writer = await backend.open_write()
    await writer.write(os.urandom(CHUNK_SIZE + 10))
    assert len(_files(backend.root / "tmp")) == 1
    await writer.abort()
    await writer.abort()  # idempotent
    assert _files(backend.root / "tmp") == []
    assert _files(backend.root / "objects") == []


async def test_abort_after_commit_keeps_object(backend: LocalBackend) -> None:
    writer = await backend.open_write()
    await writer.write(b"data")
    stored = await writer.commit()
    await writer.abort()
    assert await _read(backend, stored.key) == b"data"


async def test_write_after_commit_or_abort_raises_io_error(backend: LocalBackend) -> None:
    committed = await backend.open_write()
    await committed.commit()
    aborted = await backend.open_write()
    await aborted.abort()
    for writer in (committed, aborted):
        with pytest.raises(IoError):
            await writer.write(b"more")
        with pytest.raises(IoError):
            await writer.commit()


async def test_write_past_max_size_raises_limit_exceeded_and_abort_cleans(backend: LocalBackend) -> None:
    writer = await backend.open_write(max_size=CHUNK_SIZE + 5)
    await writer.write(b"x" * CHUNK_SIZE)
    await writer.write(b"y" * 5)  # exactly at the limit is fine
    with pytest.raises(LimitExceededError, match=f"^File exceeds the maximum size of {CHUNK_SIZE + 5} bytes$"):
        await writer.write(b"z")
    with pytest.raises(IoError):
        await writer.commit()
    await writer.abort()
    assert _files(backend.root / "tmp") == []
    assert _files(backend.root / "objects") == []


async def test_write_exactly_max_size_commits(backend: LocalBackend) -> None:
    writer = await backend.open_write(max_size=10)
    await writer.write(b"0123456789")
    assert (await writer.commit()).size == 10


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
async def test_write_disk_full_raises_quota_exceeded_and_abort_cleans(backend: LocalBackend) -> None:
    writer = await backend.open_write()
    assert isinstance(writer, LocalObjectWriter)
    # Swap the temp file's descriptor for /dev/full, which fails every write with ENOSPC.
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, writer._fd.fd)
    os.close(full)
    # Full buffers are written in the background: the failure surfaces at the next write or commit.
    with pytest.raises(QuotaExceededError, match="^Insufficient storage$"):
        await writer.write(b"x" * CHUNK_SIZE)
        await writer.commit()
    await writer.abort()
    assert _files(backend.root / "tmp") == []


async def test_write_cancelled_mid_flush_then_abort_leaves_no_files(backend: LocalBackend) -> None:
    writer = await backend.open_write()

    async def stream() -> None:
        for _ in range(64):
            await writer.write(b"x" * CHUNK_SIZE)

    task = asyncio.create_task(stream())
    await asyncio.sleep(0.01)  # let it get a buffer in flight
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(IoError):
        await writer.commit()
    await writer.abort()
    assert _files(backend.root / "tmp") == []
    assert _files(backend.root / "objects") == []


async def test_open_write_lazily_creates_layout(tmp_path: Path) -> None:
    backend = LocalBackend("local", tmp_path)
    key, _, _ = await _store(backend, b"abc")
    assert (tmp_path / "tmp").is_dir() and (tmp_path / key).is_file()


async def test_open_write_missing_root_raises_io_error_without_creating_it(tmp_path: Path) -> None:
    backend = LocalBackend("local", tmp_path / "not-mounted")
    with pytest.raises(IoError) as excinfo:
        await backend.open_write()
    assert type(excinfo.value) is IoError
    assert not (tmp_path / "not-mounted").exists()


async def test_open_read_missing_key_raises_not_found(backend: LocalBackend) -> None:
    with pytest.raises(NotFoundError, match="^File doesn't exist$"):
        await backend.open_read(_valid_key())


async def test_open_read_directory_at_key_raises_not_found(backend: LocalBackend) -> None:
    (backend.root / _valid_key()).mkdir(parents=True)
    with pytest.raises(NotFoundError):
        await backend.open_read(_valid_key())


@pytest.mark.parametrize("size_hint", [None, 10], ids=["in-a-thread", "inline"])
async def test_open_read_fifo_at_key_raises_not_found_without_blocking(
    backend: LocalBackend, size_hint: int | None
) -> None:
    (backend.root / _valid_key()).parent.mkdir(parents=True)
    os.mkfifo(backend.root / _valid_key())
    with pytest.raises(NotFoundError):
        await asyncio.wait_for(backend.open_read(_valid_key(), size_hint), timeout=5)


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "threaded"])
@pytest.mark.parametrize(("size", "hint"), [(100, 100), (PREFETCH_MAX, PREFETCH_MAX), (PREFETCH_MAX + 1, 100)])
async def test_open_read_with_size_hint_serves_the_stored_bytes(
    tmp_path: Path, inline: bool, size: int, hint: int
) -> None:
    """A small hint reads on the event loop (when enabled); a wrong hint (the object is larger
    than the catalog says) still serves every byte, streamed from the file."""
    backend = LocalBackend("s", tmp_path / "store", inline_small_reads=inline)
    (tmp_path / "store").mkdir()
    data = os.urandom(size)
    key, _, _ = await _store(backend, data)
    with thread_handoffs("gateway.storage.local") as calls:
        reader = await backend.open_read(key, hint)
        assert b"".join([c async for c in reader.iter_range(0, size)]) == data
        await reader.close()
    assert (reader.local_path is None) == (size <= PREFETCH_MAX)
    assert (len(calls) == 0) == (inline and size <= PREFETCH_MAX)


@pytest.mark.parametrize(
    ("durable", "inline", "size", "in_thread"),
    [
        (False, True, 100, False),
        (False, True, PREFETCH_MAX, False),
        (False, True, PREFETCH_MAX + 1, True),
        (False, False, 100, True),
        (True, True, 100, True),  # a durable commit fsyncs: never on the event loop
    ],
    ids=["relaxed-small", "relaxed-limit", "relaxed-larger", "relaxed-threaded", "durable"],
)
async def test_commit_runs_on_the_loop_only_for_small_relaxed_writes(
    tmp_path: Path, durable: bool, inline: bool, size: int, in_thread: bool
) -> None:
    backend = LocalBackend("s", tmp_path / "store", durable=durable, inline_small_writes=inline)
    (tmp_path / "store").mkdir()
    backend.ensure_layout()
    data = os.urandom(size)
    writer = await backend.open_write()
    with thread_handoffs("gateway.storage.local") as calls:
        await writer.write(data[:10])
        await writer.write(data[10:])
        stored = await writer.commit()
    assert (len(calls) > 0) == in_thread
    assert (stored.size, stored.sha256) == (size, hashlib.sha256(data).hexdigest())
    assert await _read(backend, stored.key) == data
    assert os.listdir(backend.tmp_dir) == []


async def test_inline_commit_failure_leaves_nothing_behind(tmp_path: Path) -> None:
    """A relaxed small commit that fails on the loop (here: the object directory cannot be
    made) maps the error and removes its temp file, exactly as the threaded one does."""
    backend = LocalBackend("s", tmp_path / "store", durable=False)
    (tmp_path / "store").mkdir()
    backend.ensure_layout()
    writer = await backend.open_write()
    await writer.write(b"x" * 100)
    subdir = backend.root / os.path.dirname(writer.key)
    subdir.write_bytes(b"a file where the object directory belongs")
    with pytest.raises(IoError):
        await writer.commit()
    assert os.listdir(backend.tmp_dir) == []


BAD_KEYS = [
    "../x",
    "/etc/passwd",
    "objects/../../etc/passwd",
    "objects/ab/../../../etc/passwd",
    "objects/AB/AB" + "0" * 30,
    "objects/ab/ab" + "g" * 30,
    "objects/ab/ab" + "0" * 29,
    "objects/ab/ab" + "0" * 31,
    "objects/ab/ab" + "0" * 29 + "\x00",
    "objects/ab/ab" + "0" * 30 + "\n",
    "objects//ab" + "0" * 30,
    "./objects/ab/ab" + "0" * 30,
    "tmp/ab/ab" + "0" * 30,
    "",
]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_open_read_bad_key_raises_invalid_path(backend: LocalBackend, key: str) -> None:
    with pytest.raises(InvalidPathError):
        await backend.open_read(key)


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_delete_bad_key_raises_invalid_path(backend: LocalBackend, key: str) -> None:
    with pytest.raises(InvalidPathError):
        await backend.delete(key)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the root holding a victim file named like an object."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / ("ab" + "0" * 30)).write_bytes(b"secret")
    return directory


async def test_symlinked_object_dir_outside_root_refused_for_read_and_delete(
    backend: LocalBackend, outside: Path
) -> None:
    backend.ensure_layout()
    (backend.root / "objects" / "ab").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidPathError):
        await backend.open_read(_valid_key())
    with pytest.raises(InvalidPathError):
        await backend.delete(_valid_key())
    assert (outside / ("ab" + "0" * 30)).read_bytes() == b"secret"


async def test_symlinked_object_dir_outside_root_refused_for_commit(backend: LocalBackend, outside: Path) -> None:
    writer = await backend.open_write()
    await writer.write(b"payload")
    assert isinstance(writer, LocalObjectWriter)
    (backend.root / "objects" / writer.key.split("/")[1]).symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidPathError):
        await writer.commit()
    await writer.abort()  # no-op: the failed commit already cleaned up
    assert _names(outside) == ["ab" + "0" * 30]
    assert _files(backend.root / "tmp") == []


async def test_symlinked_objects_dir_inside_root_is_refused_too(backend: LocalBackend) -> None:
    """Never followed, wherever it points: a check of its target would be separate from its use."""
    backend.ensure_layout()
    (backend.root / "elsewhere").mkdir()
    (backend.root / "objects" / "ab").symlink_to(backend.root / "elsewhere", target_is_directory=True)
    (backend.root / "elsewhere" / ("ab" + "0" * 30)).write_bytes(b"ok")
    with pytest.raises(InvalidPathError):
        await _read(backend, _valid_key())


async def test_delete_existing_then_again_is_idempotent(backend: LocalBackend) -> None:
    key, _, _ = await _store(backend, b"bye")
    await backend.delete(key)
    await backend.delete(key)
    with pytest.raises(NotFoundError):
        await backend.open_read(key)


async def test_delete_on_fresh_root_is_noop(backend: LocalBackend) -> None:
    await backend.delete(_valid_key())


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    return int(proc.stdout)


async def test_sweep_temp_removes_dead_and_old_files_only(backend: LocalBackend) -> None:
    backend.ensure_layout()
    tmp = backend.root / "tmp"
    host, uid = _hostname(), "0" * 32
    dead = tmp / f"{host}.{_dead_pid()}.{uid}.part"
    live = tmp / f"{host}.{os.getppid()}.{uid}.part"
    own = tmp / f"{host}.{os.getpid()}.{uid}.part"
    other_fresh = tmp / f"otherhost.1.{uid}.part"
    other_old = tmp / f"otherhost.2.{uid}.part"
    garbage_old = tmp / "garbage.part"
    not_part = tmp / "keep.txt"
    for path in (dead, live, own, other_fresh, other_old, garbage_old, not_part):
        path.write_bytes(b"x")
    day_ago = time.time() - 25 * 3600
    for path in (other_old, garbage_old, own, not_part):
        os.utime(path, (day_ago, day_ago))

    assert await backend.sweep_temp() == 3
    assert _names(tmp) == sorted(p.name for p in (live, own, other_fresh, not_part))
    assert await backend.sweep_temp() == 0


async def test_sweep_temp_keeps_open_writer_file(backend: LocalBackend) -> None:
    writer = await backend.open_write()
    await writer.write(b"in progress")
    assert await backend.sweep_temp() == 0
    assert (await writer.commit()).size == 11


async def test_sweep_temp_without_tmp_dir_returns_zero(tmp_path: Path) -> None:
    assert await LocalBackend("local", tmp_path / "missing").sweep_temp() == 0


async def test_check_good_dir_passes_and_leaves_no_probe(backend: LocalBackend) -> None:
    await backend.check()
    assert _files(backend.root / "tmp") == []


@pytest.mark.parametrize("kind", ["regular-file", "missing"])
async def test_check_unusable_root_raises_unavailable(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "root"
    if kind == "regular-file":
        root.write_bytes(b"not a directory")
    with pytest.raises(UnavailableError, match="^Storage 'disk1' is not writable$"):
        await LocalBackend("disk1", root).check()


async def test_disk_free_reports_positive_bytes(backend: LocalBackend) -> None:
    assert backend.disk_free() > 0


def test_map_os_errors_translates_and_hides_detail() -> None:
    with pytest.raises(NotFoundError, match="^File doesn't exist$"):
        with map_os_errors("Could not x"):
            raise FileNotFoundError(errno.ENOENT, "No such file", "/secret/path")
    with pytest.raises(IoError, match="^Could not x$") as excinfo:
        with map_os_errors("Could not x", not_found=None):
            raise FileNotFoundError(errno.ENOENT, "No such file", "/secret/path")
    assert type(excinfo.value) is IoError
    for code in (errno.ENOSPC, errno.EDQUOT):
        with pytest.raises(QuotaExceededError, match="^Insufficient storage$"):
            with map_os_errors("Could not x"):
                raise OSError(code, os.strerror(code), "/secret/path")
    with pytest.raises(IoError, match="^Could not x$") as excinfo:
        with map_os_errors("Could not x"):
            raise PermissionError(errno.EACCES, "Permission denied", "/secret/path")
    assert "/secret" not in excinfo.value.message
    with pytest.raises(KeyError):
        with map_os_errors("Could not x"):
            raise KeyError("not an OSError")


async def test_local_path_withheld_once_object_dir_is_swapped(backend: LocalBackend, tmp_path: Path) -> None:
    """pathsend hands the server a path: never one that no longer leads to the open file."""
    data = os.urandom(PREFETCH_MAX + 10)
    key, _, _ = await _store(backend, data)
    reader = await backend.open_read(key)
    try:
        assert reader.local_path == str(backend.root / key)
        sub = backend.root / os.path.dirname(key)
        decoy = tmp_path / "decoy"
        decoy.mkdir()
        (decoy / os.path.basename(key)).write_bytes(b"not the object")
        os.rename(sub, str(sub) + ".moved")
        sub.symlink_to(decoy, target_is_directory=True)
        assert reader.local_path is None
        assert b"".join([c async for c in reader.iter_range(0, reader.size)]) == data
    finally:
        await reader.close()
