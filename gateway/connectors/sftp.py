"""SFTP with asyncssh: pinned host keys, temp name + rename, size checked on the server.

The server's host key must be one of the connection's ``host_keys``: there is no "trust on first
use", and a changed key fails like an unknown one (:class:`~gateway.errors.HostKeyError`, never
retried), naming the fingerprint the server presented so an operator can compare it.

A write goes to ``.<name>.<sha256 prefix>.mftpart`` in the target folder, and is renamed over
the final name only after its size on the server matches the bytes sent (and those matched the
announced size and SHA-256). The rename is atomic with OpenSSH's ``posix-rename@openssh.com``
extension; a server without it gets remove-then-rename (a short window with no file). Because the
temporary name derives from the content's hash, a retry after a dropped connection overwrites the
part the first attempt left instead of adding another one. SFTP offers no remote checksum, so the
SHA-256 is checked on the bytes as they are sent, not re-read from the server.
"""

from __future__ import annotations

import asyncio
import secrets
import stat
from collections.abc import AsyncIterable, AsyncIterator, Awaitable
from typing import TypeVar

import asyncssh

from gateway.config.schema import SftpConnection
from gateway.connectors.base import (
    RemoteEntry,
    RemoteStream,
    Stream,
    Tally,
    WriteResult,
    checked,
    file_segments,
    listable,
    rechunk,
    split_path,
    temp_name,
    verify,
)
from gateway.errors import HostKeyError, IntegrityError, RemoteError, RemoteNotFoundError

T = TypeVar("T")
_CLEANUP_SECONDS = 5.0


class SftpConnector:
    def __init__(self, config: SftpConnection) -> None:
        self.name = config.name
        self._config = config
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._what = f"sftp connection {config.name!r} ({config.host}:{config.port})"

    async def list(self, folder: str = "", glob: str = "*") -> list[RemoteEntry]:
        segments = split_path(folder)
        sftp = await self._client()
        entries: list[RemoteEntry] = []
        try:
            async with asyncio.timeout(self._config.timeout_seconds * 10):
                async for item in sftp.scandir(self._remote(segments) or "."):
                    attrs, name = item.attrs, item.filename
                    if not isinstance(name, str) or attrs.permissions is None or not stat.S_ISREG(attrs.permissions):
                        continue
                    if listable(name, glob):
                        relative = "/".join((*segments, name))
                        entries.append(RemoteEntry(name, relative, attrs.size or 0, attrs.mtime))
        except BaseException as exc:
            raise self._failure(exc, f"listing '{'/'.join(segments)}'") from None
        return sorted(entries, key=lambda e: e.name)

    async def open_read(self, path: str) -> RemoteStream:
        segments = file_segments(path)
        sftp = await self._client()
        try:
            handle = await self._op(sftp.open(self._remote(segments), "rb"))
            size = (await self._op(handle.stat())).size
        except BaseException as exc:
            raise self._failure(exc, f"opening '{path}'") from None
        return Stream(self._read(handle, path, size), size, None)

    async def _read(self, handle: asyncssh.SFTPClientFile, path: str, size: int | None) -> AsyncIterator[bytes]:
        tally = Tally()
        try:
            while True:
                try:
                    chunk = await self._op(handle.read(self._config.chunk_size))
                except BaseException as exc:
                    raise self._failure(exc, f"reading '{path}'") from None
                if not chunk:
                    break
                assert isinstance(chunk, bytes)
                tally.add(chunk)
                yield chunk
            verify(tally, f"{self._what}: reading '{path}'", size, None)
        finally:
            await self._quietly(handle.close())

    async def write(
        self, path: str, chunks: AsyncIterable[bytes], size: int | None = None, sha256: str | None = None
    ) -> WriteResult:
        segments = file_segments(path)
        final = self._remote(segments)
        temp = self._remote((*segments[:-1], temp_name(segments[-1], sha256, secrets.token_hex(8))))
        sftp = await self._client()
        tally = Tally()
        what = f"{self._what}: writing '{path}'"
        try:
            handle = await self._op(sftp.open(temp, "wb"))
            try:
                async for chunk in checked(rechunk(chunks, self._config.chunk_size), tally, what, size, sha256):
                    await self._op(handle.write(chunk))
            finally:
                await self._quietly(handle.close())
            remote_size = (await self._op(sftp.stat(temp))).size
            if remote_size != tally.size:
                raise IntegrityError(f"{what}: the server holds {remote_size} bytes instead of {tally.size}")
            await self._rename(sftp, temp, final)
        except BaseException as exc:
            if self._sftp is not None:
                await self._quietly(self._sftp.remove(temp))
            raise self._failure(exc, f"writing '{path}'") from None
        return WriteResult("/".join(segments), tally.size, tally.sha256, True, False)

    async def _rename(self, sftp: asyncssh.SFTPClient, temp: str, final: str) -> None:
        try:
            await self._op(sftp.posix_rename(temp, final))
        except asyncssh.SFTPOpUnsupported:
            try:
                await self._op(sftp.remove(final))
            except asyncssh.SFTPNoSuchFile:
                pass
            await self._op(sftp.rename(temp, final))

    async def delete(self, path: str) -> None:
        segments = file_segments(path)
        sftp = await self._client()
        try:
            await self._op(sftp.remove(self._remote(segments)))
        except BaseException as exc:
            raise self._failure(exc, f"deleting '{path}'") from None

    async def close(self) -> None:
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.close()
            await self._quietly(conn.wait_closed())

    def _remote(self, segments: tuple[str, ...]) -> str:
        root = self._config.root
        if not segments:
            return root
        joined = "/".join(segments)
        return f"{root.rstrip('/')}/{joined}" if root else joined

    async def _client(self) -> asyncssh.SFTPClient:
        if self._sftp is not None and self._conn is not None and not self._conn.is_closed():
            return self._sftp
        await self.close()
        c = self._config
        try:
            keys = [asyncssh.import_public_key(k) for k in c.host_keys]
            client_keys = (
                [asyncssh.import_private_key(c.private_key, c.private_key_passphrase)] if c.private_key else ()
            )
            self._conn = await asyncssh.connect(
                c.host,
                c.port,
                username=c.username,
                password=c.password,
                client_keys=client_keys,
                known_hosts=(keys, [], []),
                agent_path=None,
                config=[],
                connect_timeout=c.timeout_seconds,
                login_timeout=c.timeout_seconds,
                keepalive_interval=max(c.timeout_seconds, 15.0),
            )
            self._sftp = await self._op(self._conn.start_sftp_client())
        except asyncssh.HostKeyNotVerifiable:
            await self.close()
            raise HostKeyError(await self._host_key_message()) from None
        except asyncssh.PermissionDenied:
            await self.close()
            raise RemoteError(
                f"{self._what}: the server refused the login of {c.username!r}", retryable=False
            ) from None
        except BaseException as exc:
            await self.close()
            raise self._failure(exc, "connecting") from None
        return self._sftp

    async def _host_key_message(self) -> str:
        c = self._config
        presented = ""
        try:
            key = await asyncio.wait_for(asyncssh.get_server_host_key(c.host, c.port), c.timeout_seconds)
            if key is not None:
                presented = f" It presented {key.get_algorithm()} {key.get_fingerprint('sha256')}."
        except (OSError, asyncssh.Error, TimeoutError):
            pass
        return (
            f"{self._what}: the server's host key is not one of the pinned host_keys (unknown host, or its key "
            f"changed).{presented} Hint: verify the fingerprint with the server's operator before adding it"
        )

    async def _op(self, awaitable: Awaitable[T]) -> T:
        return await asyncio.wait_for(awaitable, self._config.timeout_seconds)

    @staticmethod
    async def _quietly(awaitable: Awaitable[object]) -> None:
        try:
            await asyncio.wait_for(awaitable, _CLEANUP_SECONDS)
        except (OSError, asyncssh.Error, TimeoutError):
            pass

    def _failure(self, exc: BaseException, doing: str) -> BaseException:
        """The RemoteError for ``exc``; anything not from the remote (cancellation, our own
        errors) is returned as it is, to be re-raised."""
        if isinstance(exc, RemoteError | asyncio.CancelledError) or not isinstance(exc, Exception):
            return exc
        if isinstance(exc, asyncssh.SFTPNoSuchFile | asyncssh.SFTPNoSuchPath):
            return RemoteNotFoundError(f"{self._what}: {doing}: no such file or folder")
        if isinstance(exc, asyncssh.SFTPPermissionDenied):
            return RemoteError(f"{self._what}: {doing}: permission denied by the server", retryable=False)
        if isinstance(exc, asyncssh.SFTPError):
            return RemoteError(f"{self._what}: {doing}: the server answered: {exc.reason or exc.code}", retryable=True)
        self._drop()
        if isinstance(exc, TimeoutError):
            return RemoteError(f"{self._what}: {doing}: no answer within {self._config.timeout_seconds:g}s", True)
        if isinstance(exc, OSError | asyncssh.Error | EOFError):
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            return RemoteError(f"{self._what}: {doing}: connection failed ({reason})", retryable=True)
        return exc

    def _drop(self) -> None:
        """Forget a connection that failed; the next operation opens a new one."""
        if self._conn is not None:
            self._conn.abort()
        self._conn, self._sftp = None, None
