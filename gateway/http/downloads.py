"""Send a stored file: streamed in 1 MiB chunks, resumable with ``Range``, self-verifying.

``ETag`` is the content's SHA-256, so ``If-Range`` resumes only the same bytes, and
``Repr-Digest`` (RFC 9530) lets a client check the whole file after reassembling it. Every header
is built so that no stored value can break it: the name through :func:`content_disposition`,
the datatype through :func:`gateway.core.mediatypes.served_as`.

When the server offers the ASGI ``http.response.pathsend`` extension (granian does) and the
reader names its local file, a whole-file GET hands the server that path instead: the server
reads and sends the file itself, and no chunk crosses the event loop. Ranges and HEAD still go
through :meth:`FileDownload._stream` (pathsend sends a whole file, and HEAD sends none).
"""

from __future__ import annotations

import base64
from urllib.parse import quote

import anyio
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from gateway.catalog.records import FileRecord
from gateway.core import mediatypes
from gateway.http.exception_handlers import RangeNotSatisfiableError
from gateway.http.headers import header
from gateway.storage.base import CHUNK_SIZE, ObjectReader

# A download is data, never a page: no type sniffing, and should a browser render it anyway
# (opened from a link, say), no script, no plugin, no request, in an origin of its own.
SAFETY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; sandbox"),
)


def content_disposition(name: str) -> str:
    if name.isascii() and name.isprintable() and '"' not in name and "\\" not in name:
        fallback = name  # the common name, checked in C: every character is kept as it is
    else:
        fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else "_" for c in name)
    value = f'attachment; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='', errors='replace')}"
    return value


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range as (start, length); None means "send everything".

    Several ranges, or a syntax we do not serve, fall back to the whole file (RFC 9110 allows a
    server to ignore Range); a well-formed but unsatisfiable range raises RangeNotSatisfiableError.
    """
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header[6:].strip().partition("-")
    if not sep:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                raise RangeNotSatisfiableError(size)
            start = max(0, size - suffix)
            return start, size - start
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        raise RangeNotSatisfiableError(size)  # also "bytes=N-" at or past the end: curl -C on a complete file
    if start < 0 or end < start:
        return None
    return start, min(end, size - 1) - start + 1


class FileDownload:
    """An ASGI response that streams ``reader`` and always closes it."""

    def __init__(self, request: Request, record: FileRecord, reader: ObjectReader) -> None:
        self.reader = reader
        size = reader.size
        etag = f'"{record.sha256}"'
        if_range = header(request, b"if-range")
        span = parse_range(header(request, b"range"), size) if if_range in (None, etag) else None
        digest = base64.b64encode(bytes.fromhex(record.sha256)).decode("ascii")
        self.headers = [
            (b"content-type", mediatypes.served_as(record.datatype)),
            (b"content-disposition", content_disposition(record.name).encode("latin-1")),
            *SAFETY_HEADERS,
            (b"accept-ranges", b"bytes"),
            (b"etag", etag.encode("ascii")),
            (b"repr-digest", f"sha-256=:{digest}:".encode("ascii")),
            (b"x-fileset", str(record.fileset).encode("ascii")),
        ]
        if span is None:
            self.status, self.start, self.length = 200, 0, size
        else:
            self.status, (self.start, self.length) = 206, span
            end = self.start + self.length - 1
            self.headers.append((b"content-range", f"bytes {self.start}-{end}/{size}".encode("ascii")))
        self.headers.append((b"content-length", str(self.length).encode("ascii")))
        self.send_body = request.method != "HEAD"

    def _pathsend_path(self, scope: Scope) -> str | None:
        """The file to hand the server, when it can send it for us; None: stream it ourselves."""
        if self.status != 200 or not self.send_body:
            return None
        if "http.response.pathsend" not in scope.get("extensions", {}):
            return None
        # A reader without a local file (a future remote backend, or a small object already in
        # memory) has none, and then the download is streamed.
        return self.reader.local_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = self._pathsend_path(scope)
        if path is not None:
            # The server opens the path after send() returns, so this reader's descriptor is not
            # what is sent. Keys are never reused, so the path holds these bytes until a delete:
            # a file deleted in that instant is answered 404 by the server.
            try:
                await send({"type": "http.response.start", "status": 200, "headers": self.headers})
                await send({"type": "http.response.pathsend", "path": path})
            except OSError:
                # The gateway's own pathsend (gateway/zerocopy.py) says the body did not go out
                # whole (the client left; the connection is closed): the transfer is not complete.
                self.reader.interrupted()
            finally:
                await self.reader.close()
            return
        if self.length <= CHUNK_SIZE or not self.send_body:
            # One read at most: nothing worth stopping for if the client leaves, so no watcher
            # task (which costs a small download more than the rest of its sending).
            try:
                await self._stream(send)
            finally:
                await self.reader.close()
            return
        try:
            async with anyio.create_task_group() as group:
                # After a client goes away the server's send() returns silently: without watching
                # for the disconnect, an abandoned download would read the rest of the file.
                async def stream_then_stop() -> None:
                    await self._stream(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream_then_stop)
                await _wait_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            await self.reader.close()

    async def _stream(self, send: Send) -> None:
        if self.send_body and self.start == 0 and self.length == self.reader.size:
            data = self.reader.whole()  # a small object, read while it was opened: no read loop
            if data is not None:
                await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
                await send({"type": "http.response.body", "body": data, "more_body": False})
                return
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        remaining = self.length if self.send_body else 0
        if remaining:
            async for chunk in self.reader.iter_range(self.start, self.length):
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
        if remaining or not self.send_body or self.length == 0:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
