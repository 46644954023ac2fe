"""Local-disk storage backend.

Layout under the root: ``objects/<xx>/<id>`` for committed objects, where the id is 128 random
bits from the OS in hex (``xx`` its first two digits), and ``tmp/<host>.<pid>.<id>.part`` for
writes in progress. An object
appears under its key only through an atomic ``rename`` after the data (and, when durable, the
file and its directory) have been synced. Blocking system calls run in a worker thread, except
for objects up to 64 KiB where configured (``inline_small_reads``, and ``inline_small_writes``
without ``durable``): there the thread's hand-off costs more than the calls.

Nothing below the root is ever reached by path: every create, open, rename, stat and unlink is
relative to a directory descriptor opened without following symlinks (gateway.storage.beneath),
so a directory swapped for a symlink while the gateway works is refused, never followed. A
commit checks, from the root, that the object is where its key says before it is acknowledged;
a refused upload's temp file is removed through the descriptor it was created in.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import re
import socket
import stat
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from gateway.errors import GatewayError, InvalidPathError, IoError, LimitExceededError, NotFoundError, UnavailableError
from gateway.storage import beneath
from gateway.storage.base import CHUNK_SIZE, StoredObject
from gateway.storage.errors import domain_error, map_os_errors

logger = logging.getLogger("gateway.storage")

_KEY_RE = re.compile(r"objects/[0-9a-f]{2}/[0-9a-f]{32}")
TEMP_MAX_AGE = 24 * 3600.0
# Objects up to this size are read whole while being opened: one hand-off to a worker thread
# serves the download, and the descriptor is closed before a byte is sent.
PREFETCH_MAX = 64 * 1024


def _hostname() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "localhost"


def _pid_is_dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by someone else
        return False
    return False


class _Fd:
    """A file descriptor shared with worker threads.

    Opening, every use and closing hold ``lock``: a task cancelled while a worker thread is still
    opening or writing can never leak the descriptor, nor close it (letting the OS reuse it) under
    that thread. Once closed it cannot be opened again.
    """

    def __init__(self) -> None:
        self._fd = -1
        self._closed = False
        self.lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self._fd >= 0

    @property
    def fd(self) -> int:
        """The open descriptor (caller holds ``lock``); OSError(EBADF) if not open."""
        if self._fd < 0:
            raise OSError(errno.EBADF, "File descriptor is not open")
        return self._fd

    def open_locked(self, name: str, flags: int, mode: int = 0o600, *, dir_fd: int) -> None:
        if self._closed:
            raise OSError(errno.EBADF, "File descriptor was closed before it was opened")
        self._fd = os.open(name, flags | os.O_CLOEXEC | os.O_NOFOLLOW, mode, dir_fd=dir_fd)

    def close_locked(self) -> None:
        self._closed = True
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def close(self) -> None:
        with self.lock:
            self.close_locked()


_WRITEBACK_WINDOW = 8 * 1024 * 1024
_Piece = bytes | bytearray | memoryview
_IOV_MAX = 1024  # the fewest iovecs POSIX lets one writev() take
_BY_REFERENCE = 16 * 1024  # smaller pieces are copied together: a trickling client makes no 10,000-iovec writes


def _hash_all(digest: hashlib._Hash, pieces: list[_Piece]) -> None:
    for piece in pieces:
        digest.update(piece)  # releases the GIL for pieces over 2 KiB


def _write_all(fd: int, pieces: list[_Piece]) -> int:
    """Write every piece, in order, with as few syscalls as the kernel allows; the byte count."""
    views = [memoryview(p).cast("B") for p in pieces if len(p)]
    total, first = 0, 0
    while first < len(views):
        done = os.writev(fd, views[first : first + _IOV_MAX])
        total += done
        while first < len(views) and done >= len(views[first]):
            done -= len(views[first])
            first += 1
        if done:
            views[first] = views[first][done:]
    return total


class LocalObjectWriter:
    """A new object in ``tmp/``; see :class:`gateway.storage.base.ObjectWriter`."""

    def __init__(self, backend: LocalBackend, key: str, tmp_name: str, max_size: int | None) -> None:
        self._backend = backend
        self._key = key
        self._tmp_name = tmp_name  # in tmp/
        self._fd = _Fd()
        self._tmp_dir = -1  # descriptor of the tmp/ the temp file was created in (under _fd.lock)
        self._max_size = max_size
        self._pieces: list[_Piece] = []  # received, not yet handed to the workers
        self._buffered = 0
        self._hash = hashlib.sha256()
        self._size = 0
        self._state = "open"  # "open" -> "failed" (abortable only) -> "done" (committed or aborted)
        self._renamed = False  # set by the worker once the object is in place
        self._in_flight: tuple[asyncio.Future[None], ...] = ()
        self._written = 0  # bytes handed to the kernel
        self._flushed = 0  # bytes whose writeback has been started

    @property
    def key(self) -> str:
        return self._key

    @property
    def size(self) -> int:
        return self._size

    def _open_sync(self) -> None:
        with self._fd.lock:
            self._open_locked()

    def _open_locked(self) -> None:
        """Create the temp file on first use, in the worker that writes it: a small upload then
        opens, writes, syncs and renames in one hand-off to a thread instead of three."""
        if self._fd.is_open:
            return
        if self._tmp_dir < 0:
            self._tmp_dir = self._backend.open_tmp_dir()
        self._fd.open_locked(self._tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640, dir_fd=self._tmp_dir)

    def _check_open(self) -> None:
        if self._state != "open":
            raise IoError("The file is no longer open for writing")

    async def write(self, data: bytes | memoryview) -> None:
        """Append data; raises LimitExceededError past ``max_size``, QuotaExceededError when the
        disk is full, IoError on other disk failures or once the writer is committed/aborted/failed.

        Every 1 MiB received is hashed and written by two worker threads while the caller goes on
        receiving the next; at most one such batch is in flight, so memory stays bounded. The
        batch is the caller's pieces themselves, written with one ``writev``: no copy is made of
        immutable data (``bytes``, or a view of it), which is what the HTTP servers hand over.
        """
        self._check_open()
        if self._max_size is not None and self._size + len(data) > self._max_size:
            self._state = "failed"
            raise LimitExceededError(f"File exceeds the maximum size of {self._max_size} bytes")
        immutable = isinstance(data, bytes) or (isinstance(data, memoryview) and isinstance(data.obj, bytes))
        if immutable and len(data) >= _BY_REFERENCE:
            self._pieces.append(data)
        elif self._pieces and isinstance(self._pieces[-1], bytearray):
            self._pieces[-1] += data  # ours: a copy made below
        else:
            self._pieces.append(bytearray(data))  # also: the caller may reuse a mutable buffer
        self._buffered += len(data)
        self._size += len(data)
        if self._buffered >= CHUNK_SIZE:
            batch, self._pieces, self._buffered = self._pieces, [], 0
            await self._drain()
            loop = asyncio.get_running_loop()
            self._in_flight = (
                loop.run_in_executor(None, _hash_all, self._hash, batch),
                loop.run_in_executor(None, self._append, batch),
            )

    async def _drain(self) -> None:
        """Wait for the buffer in flight; its disk error surfaces here."""
        pending, self._in_flight = self._in_flight, ()
        if not pending:
            return
        try:
            with map_os_errors("Could not write the file", not_found=None):
                for future in pending:
                    await future
        except BaseException:
            self._state = "failed"
            raise

    def _append(self, batch: list[_Piece]) -> None:
        with self._fd.lock:
            self._write_locked(batch)

    def _write_locked(self, batch: list[_Piece]) -> None:
        self._open_locked()
        self._written += _write_all(self._fd.fd, batch)
        if self._backend.durable and self._written - self._flushed >= _WRITEBACK_WINDOW:
            # Start writing back what is already written, so the final fsync finds little left:
            # a durable upload then runs at disk speed instead of "receive, then flush". It also
            # keeps a big upload from filling the page cache (clean pages are dropped).
            os.posix_fadvise(self._fd.fd, self._flushed, self._written - self._flushed, os.POSIX_FADV_DONTNEED)
            self._flushed = self._written

    def _append_locked(self, batch: list[_Piece]) -> None:
        _hash_all(self._hash, batch)
        self._write_locked(batch)

    async def commit(self) -> StoredObject:
        """Flush, fsync when durable, and rename the object into place.

        Raises QuotaExceededError/IoError on disk failure, InvalidPathError if the object directory
        resolves outside the root, IoError if the writer is not open. On failure the temp file is
        removed (the writer is then finished; a later abort() is a no-op).
        """
        self._check_open()
        try:
            await self._drain()
        except BaseException:
            await self._abort_quietly()
            raise
        self._state = "done"
        tail, self._pieces, self._buffered = self._pieces, [], 0
        try:
            try:
                if self._backend.writes_inline(self._size):
                    return self._commit_sync(tail)
                return await asyncio.to_thread(self._commit_sync, tail)
            except OSError as exc:
                raise domain_error(exc, "Could not store the file", not_found=None) from exc
        except BaseException:
            self._state = "failed"
            await self._abort_quietly()
            raise

    async def _abort_quietly(self) -> None:
        # While another exception propagates (the worker runs on even if this await is cancelled).
        with contextlib.suppress(GatewayError):
            await self.abort()

    def _commit_sync(self, tail: list[_Piece]) -> StoredObject:
        with self._fd.lock:
            self._open_locked()
            if tail:
                self._append_locked(tail)
            if self._backend.durable:
                os.fsync(self._fd.fd)
            written = os.fstat(self._fd.fd)
            self._fd.close_locked()
            self._place_locked(written)
            os.close(self._tmp_dir)
            self._tmp_dir = -1
        return StoredObject(self._key, self._size, self._hash.hexdigest())

    def _place_locked(self, written: os.stat_result) -> None:
        """Rename the temp file to its key, then make sure the key, resolved afresh from the
        root, is that file: a directory renamed away meanwhile would otherwise take an
        acknowledged object out of the root. If it is not, the object is removed and the commit
        fails (IoError)."""
        backend = self._backend
        _, sub, name = self._key.split("/")
        objects_fd, sub_fd, created = backend.object_dirs(self._key, create=True)  # no context manager per upload
        try:
            os.rename(self._tmp_name, name, src_dir_fd=self._tmp_dir, dst_dir_fd=sub_fd)
            self._renamed = True
            if backend.durable:
                os.fsync(sub_fd)
                if created:
                    os.fsync(objects_fd)
            if not beneath.is_at(backend.root_path, ("objects", sub), name, written):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=sub_fd)  # ours, wherever that directory now is
                self._renamed = False
                logger.error("Storage '%s': objects/%s changed while %s was stored; refused", backend.name, sub, name)
                raise IoError("Could not store the file")
        finally:
            os.close(sub_fd)
            os.close(objects_fd)

    async def abort(self) -> None:
        """Close and remove the temp file. Idempotent; a no-op after a successful commit.

        Raises IoError only if the file exists but cannot be removed.
        """
        if self._state == "done":
            return
        self._state = "done"
        self._pieces, self._buffered = [], 0
        pending, self._in_flight = self._in_flight, ()
        await asyncio.gather(*pending, return_exceptions=True)  # their errors no longer matter
        with map_os_errors("Could not discard the file", not_found=None):
            await asyncio.to_thread(self._discard_sync)

    def _discard_sync(self) -> None:
        with self._fd.lock:  # waits for any in-flight worker (e.g. of a cancelled write or commit)
            self._fd.close_locked()
            tmp_dir, self._tmp_dir = self._tmp_dir, -1
            renamed, self._renamed = self._renamed, False
        if tmp_dir >= 0:
            try:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._tmp_name, dir_fd=tmp_dir)  # where it was made, even if moved since
            finally:
                os.close(tmp_dir)
        if renamed:
            self._backend._delete_sync(self._key)


class LocalObjectReader:
    """An open committed object; see :class:`gateway.storage.base.ObjectReader`."""

    def __init__(self) -> None:
        self._fd = _Fd()
        self._size = 0
        self._data: bytes | None = None  # the whole object, when it was small enough to prefetch
        self._path: str | None = None
        self._place: tuple[str, tuple[str, str], str, os.stat_result] | None = None  # for local_path

    def _open_sync(self, backend: LocalBackend, key: str) -> None:
        objects_fd, sub_fd, _ = backend.object_dirs(key)  # not object_parent: a context manager per read
        os.close(objects_fd)
        try:
            with self._fd.lock:
                # O_NONBLOCK: a FIFO planted under objects/ must not hang the open; O_NOFOLLOW:
                # nor may a symlink in place of an object lead elsewhere.
                self._fd.open_locked(key.rsplit("/", 1)[1], os.O_RDONLY | os.O_NONBLOCK, dir_fd=sub_fd)
                st = os.fstat(self._fd.fd)
                if not stat.S_ISREG(st.st_mode):
                    raise NotFoundError("File doesn't exist")
                self._size = st.st_size
                if st.st_size <= PREFETCH_MAX:
                    self._data = os.pread(self._fd.fd, st.st_size, 0)
                    self._fd.close_locked()
                else:
                    self._path = os.path.join(backend.root_path, key)
                    _, sub, name = key.split("/")
                    self._place = (backend.root_path, ("objects", sub), name, st)
        finally:
            os.close(sub_fd)

    @property
    def size(self) -> int:
        return self._size

    @property
    def local_path(self) -> str | None:
        """The object's path for a server that opens it itself (ASGI pathsend), or None.

        A path is resolved again by whoever opens it, so it is handed out only after checking,
        without following symlinks, that it still leads to the very file open here (a few
        system calls); else None, and the caller streams from this reader's descriptor. The
        instant between this check and the server's own open remains.
        """
        if self._path is None or self._place is None:
            return None
        root, parts, name, opened = self._place
        return self._path if beneath.is_at(root, parts, name, opened) else None

    async def iter_range(self, start: int, length: int, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """Yield ``length`` bytes from ``start`` with ``pread`` (skipped bytes are never read).

        Raises IoError on a read failure or if the file turns out shorter than expected, and
        ValueError for a range outside ``[0, size]`` or a non-positive chunk size (a caller bug).
        """
        if start < 0 or length < 0 or start + length > self._size or chunk_size <= 0:
            raise ValueError(f"Invalid range start={start} length={length} for size {self._size}")
        if self._data is not None:
            if len(self._data) < start + length:
                logger.error("Unexpected end of file at offset %d (size %d)", len(self._data), self._size)
                raise IoError("Could not read the file")
            for offset in range(start, start + length, chunk_size):
                yield self._data[offset : min(offset + chunk_size, start + length)]
            return
        offset, end = start, start + length
        while offset < end:
            with map_os_errors("Could not read the file", not_found=None):
                chunk = await asyncio.to_thread(self._pread, min(chunk_size, end - offset), offset)
            if not chunk:
                logger.error("Unexpected end of file at offset %d (size %d)", offset, self._size)
                raise IoError("Could not read the file")
            offset += len(chunk)
            yield chunk

    def whole(self) -> bytes | None:
        data = self._data
        return data if data is not None and len(data) == self._size else None  # shorter: iter_range says why

    def _pread(self, n: int, offset: int) -> bytes:
        with self._fd.lock:
            return os.pread(self._fd.fd, n, offset)

    def interrupted(self) -> None:
        pass  # nothing counted here (core/tracked.py counts a transfer)

    async def close(self) -> None:
        """Close the file; idempotent. Raises IoError if the OS reports a failure."""
        if not self._fd.is_open:
            return
        with map_os_errors("Could not close the file", not_found=None):
            await asyncio.to_thread(self._fd.close)


class LocalBackend:
    """Objects as files under ``root``; see :class:`gateway.storage.base.StorageBackend`.

    With ``durable`` false, fsync is skipped (faster, but a crash may lose acknowledged files).
    """

    def __init__(
        self,
        name: str,
        root: Path,
        durable: bool = True,
        inline_small_reads: bool = True,
        inline_small_writes: bool = True,
    ) -> None:
        self.name = name
        self.root = Path(root)
        self.root_path = str(self.root)
        self.durable = durable
        self.inline_small_reads = inline_small_reads
        self.inline_small_writes = inline_small_writes
        self.tmp_dir = self.root / "tmp"
        self._layout_seen = False  # set once a temp file could be created here
        self._host = _hostname()

    def _unusable(self, what: str, exc: OSError) -> IoError:
        logger.error(
            "Storage '%s': %s is a symlink or leaves the root, or is not a directory; refusing it (%s)",
            self.name,
            what,
            exc,
        )
        return IoError(f"Storage '{self.name}' is not usable")

    def _is_link(self, name: str) -> bool:
        try:
            with beneath.opened_below(self.root_path, ()) as root_fd:
                return beneath.is_symlink(name, root_fd)
        except OSError:
            return False

    def ensure_layout(self) -> None:
        """Create ``objects/`` and ``tmp/`` in the existing root (idempotent, blocking).

        Raises IoError if the root is missing or not a writable directory, or if either is a
        symlink or not a directory.
        """
        with map_os_errors(f"Storage '{self.name}' is not usable", not_found=None):
            for directory in ("objects", "tmp"):
                try:
                    os.close(beneath.open_below(self.root_path, (directory,), create=True))
                except OSError as exc:
                    if exc.errno in beneath.REFUSED:
                        raise self._unusable(directory, exc) from exc
                    raise

    def verify_layout(self) -> None:
        """Refuse ``objects/`` or ``tmp/`` that is a symlink or not a directory (blocking; IoError).

        Missing ones are fine (they are created on first use). Only a diagnosis: every operation
        opens the directories itself without following symlinks.
        """
        for directory in ("objects", "tmp"):
            try:
                os.close(beneath.open_below(self.root_path, (directory,)))
            except FileNotFoundError:
                continue
            except OSError as exc:
                if exc.errno in beneath.REFUSED:
                    raise self._unusable(directory, exc) from exc
                raise

    def open_tmp_dir(self) -> int:
        """A descriptor of ``tmp/`` (created if missing); IoError if it is a symlink (blocking)."""
        try:
            return beneath.open_below(self.root_path, ("tmp",))
        except FileNotFoundError:
            self.ensure_layout()
            return beneath.open_below(self.root_path, ("tmp",))
        except OSError as exc:
            if exc.errno in beneath.REFUSED:
                raise self._unusable("tmp", exc) from exc
            raise

    @contextlib.contextmanager
    def object_parent(self, key: str, *, create: bool = False) -> Iterator[tuple[int, int, bool]]:
        """:meth:`object_dirs`, closed when the block ends."""
        objects_fd, sub_fd, created = self.object_dirs(key, create=create)
        try:
            yield objects_fd, sub_fd, created
        finally:
            os.close(sub_fd)
            os.close(objects_fd)

    def object_dirs(self, key: str, *, create: bool = False) -> tuple[int, int, bool]:
        """Descriptors of ``objects/`` and of ``key``'s ``objects/<xx>/`` (blocking; the caller
        closes both), and whether ``<xx>`` was created here (``create``). InvalidPathError unless
        ``key`` is well formed and both are real directories (never a symlink, even one pointing
        inside the root); OSError (IoError for the caller) if one is a file."""
        if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
            logger.warning("Refused malformed storage key %r", key)
            raise InvalidPathError()
        sub = key.split("/")[1]
        try:
            objects_fd = beneath.open_below(self.root_path, ("objects",), create=create)
        except OSError as exc:
            if exc.errno in beneath.REFUSED and self._is_link("objects"):
                logger.warning("Refused storage key %r: objects/ is a symlink", key)
                raise InvalidPathError() from exc
            raise
        try:
            created = False
            try:
                try:
                    sub_fd = os.open(sub, beneath.DIR_FLAGS, dir_fd=objects_fd)
                except FileNotFoundError:
                    # Made on first use: trying the open first spares every later object a
                    # mkdir that fails with EEXIST (a system call and an exception each).
                    if not create:
                        raise
                    try:
                        os.mkdir(sub, 0o750, dir_fd=objects_fd)
                        created = True
                    except FileExistsError:
                        pass
                    sub_fd = os.open(sub, beneath.DIR_FLAGS, dir_fd=objects_fd)
            except OSError as exc:
                if exc.errno in beneath.REFUSED and beneath.is_symlink(sub, objects_fd):
                    logger.warning("Refused storage key %r: objects/%s is a symlink", key, sub)
                    raise InvalidPathError() from exc
                raise
        except BaseException:
            os.close(objects_fd)
            raise
        return objects_fd, sub_fd, created

    def writes_inline(self, size: int) -> bool:
        """Whether a finished object of ``size`` bytes is stored on the event loop.

        Only without ``durable``: then storing a small object is a create, a write and a rename
        that land in the page cache, and a worker thread's hand-off costs more CPU than they do
        (measured with ``bench/ab.py``). A durable commit waits for two fsyncs and always runs
        in a thread. ``inline_small_writes: false`` is for storage where even those calls can
        stall, such as a network file system.
        """
        return self.inline_small_writes and not self.durable and size <= PREFETCH_MAX

    def disk_free(self) -> int:
        """Bytes available to this process on the root's file system (blocking). Raises IoError."""
        with map_os_errors(f"Storage '{self.name}' is not usable", not_found=None):
            st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize

    def _temp_name(self, ident: str) -> str:
        return f"{self._host}.{os.getpid()}.{ident}.part"

    async def open_write(self, max_size: int | None = None) -> LocalObjectWriter:
        """Start a new object under a fresh key; raises IoError/QuotaExceededError if storage is unusable."""
        ident = os.urandom(16).hex()  # as unique as a uuid4 (whose version bits it does not need), 1.5 us less
        writer = LocalObjectWriter(self, f"objects/{ident[:2]}/{ident}", self._temp_name(ident), max_size)
        try:
            if not self._layout_seen:
                # First write to this storage: find out now (not mid-upload) whether it is usable.
                with map_os_errors("Could not create the file", not_found=None):
                    await asyncio.to_thread(writer._open_sync)
                self._layout_seen = True
        except BaseException:
            await writer._abort_quietly()
            raise
        return writer

    async def open_read(self, key: str, size_hint: int | None = None) -> LocalObjectReader:
        """Open a committed object; raises NotFoundError if missing, InvalidPathError for a bad key, IoError.

        With ``inline_small_reads``, an object the catalog says is small (``size_hint`` up to
        PREFETCH_MAX) is opened and read right here on the event loop: a few cached system calls,
        where the hand-off to a worker thread and back measured ~0.4 ms of CPU per download under
        load (the threads contend for the GIL) and cut small-download throughput by a third. The
        price is that a cold read stalls the loop for one disk read; storage that can be slow
        (network file systems) should set ``inline_small_reads: false``.
        """
        reader = LocalObjectReader()
        try:
            try:
                if self.inline_small_reads and size_hint is not None and 0 <= size_hint <= PREFETCH_MAX:
                    reader._open_sync(self, key)
                else:
                    await asyncio.to_thread(reader._open_sync, self, key)
            except OSError as exc:
                raise domain_error(exc, "Could not open the file") from exc
        except BaseException:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(reader._fd.close)
            raise
        return reader

    def _delete_sync(self, key: str) -> None:
        try:
            with self.object_parent(key) as (_, sub_fd, _):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(key.rsplit("/", 1)[1], dir_fd=sub_fd)
        except FileNotFoundError:
            return  # no objects/ or objects/<xx>/: nothing to delete

    async def delete(self, key: str) -> None:
        """Remove an object; missing is fine. Raises InvalidPathError for a bad key, IoError on failure."""
        with map_os_errors("Could not delete the file", not_found=None):
            await asyncio.to_thread(self._delete_sync, key)

    def _check_sync(self) -> None:
        self.ensure_layout()
        probe = self._temp_name(uuid.uuid4().hex)
        with beneath.opened_below(self.root_path, ("tmp",)) as tmp_fd:
            fd = os.open(probe, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=tmp_fd)
            try:
                os.write(fd, b"probe")
                os.fsync(fd)
                if os.pread(fd, 5, 0) != b"probe":
                    raise OSError(errno.EIO, "Probe read back different data", probe)
            finally:
                os.close(fd)
                os.unlink(probe, dir_fd=tmp_fd)

    async def check(self) -> None:
        """Write, fsync, read back and delete a probe file; raises UnavailableError on any failure."""
        try:
            await asyncio.to_thread(self._check_sync)
        except (OSError, GatewayError) as exc:
            logger.error("Storage '%s' readiness check failed: %s", self.name, exc)
            raise UnavailableError(f"Storage '{self.name}' is not writable") from exc

    def _sweep_sync(self) -> int:
        self.verify_layout()
        try:
            tmp_fd = beneath.open_below(self.root_path, ("tmp",))
        except FileNotFoundError:
            return 0
        try:
            return self._sweep_in(tmp_fd)
        finally:
            os.close(tmp_fd)

    def _sweep_in(self, tmp_fd: int) -> int:
        now, removed = time.time(), 0
        with os.scandir(tmp_fd) as listing:
            entries = list(listing)
        for entry in entries:
            if not entry.name.endswith(".part") or not entry.is_file(follow_symlinks=False):
                continue
            parts = entry.name.split(".")
            host, pid = (parts[0], parts[1]) if len(parts) == 4 else ("", "")
            if host == self._host and pid == str(os.getpid()):
                continue  # ours: never touched
            try:
                stale = host == self._host and pid.isdigit() and int(pid) > 0 and _pid_is_dead(int(pid))
                stale = stale or now - entry.stat(follow_symlinks=False).st_mtime > TEMP_MAX_AGE
                if stale:
                    os.unlink(entry.name, dir_fd=tmp_fd)
                    removed += 1
            except FileNotFoundError:
                continue  # removed concurrently (e.g. by another process's sweep)
            except OSError as exc:
                logger.warning("Could not remove stale temp file %s in %s: %s", entry.name, self.tmp_dir, exc)
        if removed:
            logger.info("Removed %d stale temp file(s) from %s", removed, self.tmp_dir)
        return removed

    async def sweep_temp(self) -> int:
        """Remove ``tmp/*.part`` files of dead local processes or older than 24 h; return the count.

        Files of the current process are never touched. Raises IoError if ``tmp/`` cannot be listed.
        """
        with map_os_errors("Could not clean the temporary files", not_found=None):
            return await asyncio.to_thread(self._sweep_sync)
