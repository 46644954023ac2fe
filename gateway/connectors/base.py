"""The one interface every remote endpoint offers, and the helpers all four connectors share.

A pull step lists a remote folder with a glob, streams each file into the gateway's storage and
may delete the source; a push step streams a stored file to a remote path. So a connector only
needs five operations (:class:`Connector`). Everything crossing it is streamed in bounded chunks:
no operation holds a whole file in memory.

Remote paths are given relative to the connection's root (``inbox/a.csv``; a leading ``/`` means
the root itself) and are confined there: each segment goes through the same validator as a
partner's path (:func:`gateway.core.paths.validate_segment`), so ``..``, empty segments, control
characters and backslashes are refused before any byte leaves the gateway.

Verification: :class:`Tally` counts and hashes the bytes as they pass. A write given the expected
``size``/``sha256`` refuses to publish the file when they differ (:class:`~gateway.errors.IntegrityError`),
and a read checks what the remote announced (its size, and its SHA-256 where the protocol gives one)
when the last chunk has gone by, so a consumer that stores the chunks sees the error before it
commits anything.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from gateway.core.paths import validate_segment
from gateway.errors import IntegrityError, InvalidPathError, RemoteError

CHUNK_SIZE = 1024 * 1024
TEMP_SUFFIX = ".mftpart"  # temporary names are ".<name>.<token>.mftpart"; listings skip them


@dataclass(frozen=True, slots=True)
class RemoteEntry:
    """A regular file in a remote folder. ``path`` is relative to the connection's root."""

    name: str
    path: str
    size: int
    mtime: float | None = None  # seconds since the epoch, when the remote tells


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write published: the final path, and what was checked on the remote side."""

    path: str
    size: int
    sha256: str
    remote_size_checked: bool  # the remote reported the size of the published file and it matched
    remote_sha256_checked: bool  # the remote reported a SHA-256 of the published file and it matched


class RemoteStream(Protocol):
    """A remote file being read: an async iterator of chunks with what the remote announced."""

    @property
    def size(self) -> int | None: ...

    @property
    def sha256(self) -> str | None: ...

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class Connector(Protocol):
    """One remote endpoint. Methods raise only :class:`~gateway.errors.RemoteError` (and its
    subclasses) or :class:`~gateway.errors.InvalidPathError`; ``close`` never raises."""

    name: str

    async def list(self, folder: str = "", glob: str = "*") -> list[RemoteEntry]:
        """The regular files directly in ``folder`` whose name matches ``glob`` (fnmatch,
        case-sensitive), sorted by name. Names that are not valid gateway names and this
        gateway's own temporary files are left out."""
        ...

    async def open_read(self, path: str) -> RemoteStream:
        """Start reading ``path``; the stream must be consumed or closed (``aclose``)."""
        ...

    async def write(
        self, path: str, chunks: AsyncIterable[bytes], size: int | None = None, sha256: str | None = None
    ) -> WriteResult:
        """Stream ``chunks`` to ``path``, replacing any file there, visible under that name only
        once complete and matching ``size``/``sha256`` (when given). A failed or repeated write
        leaves either the old file or the complete new one under the final name, never a part."""
        ...

    async def delete(self, path: str) -> None:
        """Remove the file ``path``; RemoteNotFoundError when there is none."""
        ...

    async def close(self) -> None: ...


def split_path(path: str) -> tuple[str, ...]:
    """The validated segments of a root-relative remote path (``""`` and ``"/"`` are the root)."""
    stripped = path.strip("/")
    if not stripped:
        return ()
    return tuple(validate_segment(part) for part in stripped.split("/"))


def file_segments(path: str) -> tuple[str, ...]:
    """Like :func:`split_path`, for a file: the root itself is refused."""
    segments = split_path(path)
    if not segments:
        raise InvalidPathError("Invalid path: a remote file path needs a file name")
    return segments


def temp_name(name: str, sha256: str | None, token: str) -> str:
    """The hidden name a file is written under before the rename. Derived from the content's
    SHA-256 when known, so a retried push reuses (overwrites) the part an earlier attempt left."""
    tag = sha256[:16] if sha256 else token
    return f".{name}.{tag}{TEMP_SUFFIX}"


def listable(name: str, glob: str) -> bool:
    """Whether a remote name belongs in a listing filtered by ``glob``."""
    if name.startswith(".") and name.endswith(TEMP_SUFFIX):
        return False
    try:
        if validate_segment(name) != name:
            return False
    except InvalidPathError:
        return False
    return fnmatch.fnmatchcase(name, glob)


class Tally:
    """Counts and hashes the bytes of one transfer as they pass."""

    def __init__(self) -> None:
        self.size = 0
        self._hash = hashlib.sha256()

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._hash.update(chunk)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


async def checked(
    chunks: AsyncIterable[bytes], tally: Tally, what: str, size: int | None, sha256: str | None
) -> AsyncIterator[bytes]:
    """Pass ``chunks`` on through ``tally``; raise IntegrityError instead of ending when the
    bytes differ from ``size``/``sha256`` (as soon as there are too many, else after the last)."""
    async for chunk in chunks:
        if not chunk:
            continue
        tally.add(chunk)
        if size is not None and tally.size > size:
            raise IntegrityError(f"{what}: more bytes than the announced {size}")
        yield chunk
    verify(tally, what, size, sha256)


def verify(tally: Tally, what: str, size: int | None, sha256: str | None) -> None:
    if size is not None and tally.size != size:
        raise IntegrityError(f"{what}: {tally.size} bytes instead of the announced {size}")
    if sha256 is not None and tally.sha256 != sha256.lower():
        raise IntegrityError(f"{what}: the SHA-256 of the bytes differs from the announced one")


async def rechunk(chunks: AsyncIterable[bytes], most: int) -> AsyncIterator[bytes]:
    """Split chunks larger than ``most`` (a caller may hand over any size; peers want bounded ones)."""
    async for chunk in chunks:
        if len(chunk) <= most:
            yield chunk
            continue
        view = memoryview(chunk)
        for start in range(0, len(chunk), most):
            yield bytes(view[start : start + most])


class Stream:
    """:class:`RemoteStream` over an async generator of already-verified chunks."""

    def __init__(self, chunks: AsyncIterator[bytes], size: int | None, sha256: str | None) -> None:
        self._chunks = chunks
        self._size = size
        self._sha256 = sha256

    @property
    def size(self) -> int | None:
        return self._size

    @property
    def sha256(self) -> str | None:
        return self._sha256

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks

    async def aclose(self) -> None:
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()


def describe_os_error(exc: BaseException) -> str:
    """A short reason for a network error that holds no secret (no URL, no credentials)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def unexpected(what: str, exc: BaseException, retryable: bool = True) -> RemoteError:
    return RemoteError(f"{what}: {describe_os_error(exc)}", retryable=retryable)


def our_error(exc: BaseException) -> RemoteError | None:
    """A RemoteError our own chunk iterator raised inside a library call, however wrapped."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, RemoteError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
