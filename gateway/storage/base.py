"""The storage backend interface: bytes under opaque keys, nothing else.

Storage knows no users, paths of the partner API, HTTP or SQL. The catalog maps virtual paths
to keys; a key is chosen by the backend when an object is written (so a partner's file name
never becomes a file system name), and an object becomes reachable only once the catalog row
that names its key is committed. Backends raise only ``gateway.errors`` classes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from gateway.frozen import frozen

CHUNK_SIZE = 1024 * 1024


@frozen
class StoredObject:
    key: str
    size: int
    sha256: str  # lowercase hex


class ObjectWriter(Protocol):
    """A new object being written. Exactly one of commit() or abort() must be awaited."""

    @property
    def size(self) -> int: ...

    async def write(self, data: bytes | memoryview) -> None:
        """Append data (buffered; large writes happen off the event loop).

        Raises LimitExceededError past ``max_size``, IoError on disk failure.
        """

    async def commit(self) -> StoredObject:
        """Flush, fsync when durable, and move the object into place under its key."""

    async def abort(self) -> None:
        """Discard everything written; safe to call more than once and after a failure."""


class ObjectReader(Protocol):
    @property
    def size(self) -> int: ...

    @property
    def local_path(self) -> str | None:
        """A file system path a server may send the object from (ASGI ``pathsend``); None
        when the bytes are not in a local file or are already in memory."""

    def iter_range(self, start: int, length: int, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """Yield ``length`` bytes from ``start`` without reading the skipped bytes."""

    def whole(self) -> bytes | None:
        """The whole object when the reader already holds it in memory (a small object read
        while opening), taken as read; None when it must be read with :meth:`iter_range`."""

    def interrupted(self) -> None:
        """The server, sending from :attr:`local_path`, could not send the whole object (the
        client went away): whoever counts the transfer must not count it complete."""

    async def close(self) -> None: ...


class StorageBackend(Protocol):
    name: str

    async def open_write(self, max_size: int | None = None) -> ObjectWriter:
        """Start a new object under a fresh key. Raises IoError if storage is unusable."""

    async def open_read(self, key: str, size_hint: int | None = None) -> ObjectReader:
        """Open an existing object. Raises NotFoundError if it is missing, InvalidPathError for a bad key.

        ``size_hint`` (the size the catalog recorded) lets a backend serve a small object
        without handing the open to a worker thread."""

    async def delete(self, key: str) -> None:
        """Remove an object; a missing object is not an error (deletes are idempotent)."""

    async def check(self) -> None:
        """Raise UnavailableError unless the backend can read and write now (readiness probe)."""

    async def sweep_temp(self) -> int:
        """Remove temp files left by crashed processes; return how many were removed."""
