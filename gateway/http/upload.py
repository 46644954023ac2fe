"""Stream a ``multipart/form-data`` upload from ``request.stream()`` straight into storage.

``request.form()`` would spool the whole file to a temporary file and copy it again; here the
parser's callbacks only collect slices of each received chunk, and after every chunk those
slices are handed to the storage writer (which buffers ~1 MiB and writes and hashes off the
event loop). Only the small ``metadata`` part is held in memory, under a size limit.
"""

from __future__ import annotations

from urllib.parse import unquote

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser
from starlette.requests import ClientDisconnect, Request

from gateway.core.uploads import OpenWriter, ReceivedForm
from gateway.errors import LimitExceededError, RequestSyntaxError
from gateway.http import smallform
from gateway.http.headers import header
from gateway.storage.base import ObjectWriter

FILE_FIELD = "file"
METADATA_FIELD = "metadata"


def _decode(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _filename(params: dict[bytes, bytes]) -> str | None:
    extended = params.get(b"filename*")
    if extended and b"''" in extended:  # RFC 5987: charset'lang'pct-encoded
        charset, _, encoded = _decode(extended).partition("''")
        try:
            return unquote(encoded, encoding=charset.split("'")[0] or "utf-8", errors="strict")
        except (LookupError, UnicodeDecodeError):
            raise RequestSyntaxError() from None
    plain = params.get(b"filename")
    return _decode(plain) if plain is not None else None


class _Part:
    __slots__ = ("content_type", "filename", "headers", "name")

    def __init__(self) -> None:
        self.headers: dict[str, bytes] = {}
        self.name: str | None = None
        self.filename: str | None = None
        self.content_type: str | None = None


class MultipartSource:
    """The request body as an :class:`~gateway.core.uploads.UploadSource`."""

    def __init__(self, request: Request, max_metadata_bytes: int) -> None:
        self._request = request
        self._max_metadata = max_metadata_bytes
        self._part = _Part()
        self._field = b""
        self._value = b""
        self._pending: list[memoryview] = []
        self._file_started = False
        self._file_seen = False
        self._in_file = False
        self._in_metadata = False
        self._metadata: bytearray | None = None
        self._file_part: _Part | None = None
        self._ended = False

    def _boundary(self) -> bytes:
        ctype, params = smallform.options_header(header(self._request, b"content-type") or "")
        boundary = params.get(b"boundary")
        if ctype != b"multipart/form-data" or not boundary or len(boundary) > 200:
            raise RequestSyntaxError()
        return boundary

    # parser callbacks (synchronous; they only record what arrived)
    def _on_part_begin(self) -> None:
        self._part = _Part()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self._part.headers[_decode(self._field).lower()] = self._value
        self._field = self._value = b""

    def _on_headers_finished(self) -> None:
        part = self._part
        # Raw bytes to the parser: partners' tools send UTF-8 file names, which a str would force
        # through latin-1.
        disposition, params = smallform.options_header(part.headers.get("content-disposition", b""))
        if disposition != b"form-data" or b"name" not in params:
            raise RequestSyntaxError()
        part.name = _decode(params[b"name"])
        part.filename = _filename(params)
        ctype = part.headers.get("content-type")
        part.content_type = _decode(ctype) if ctype is not None else None
        self._in_file = part.name == FILE_FIELD
        self._in_metadata = part.name == METADATA_FIELD
        if self._in_file:
            if self._file_seen:
                raise RequestSyntaxError()  # two files in one upload: ambiguous, refuse
            self._file_seen = True
            self._file_part = part
        elif self._in_metadata:
            if self._metadata is not None:
                raise RequestSyntaxError()
            self._metadata = bytearray()

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pending.append(memoryview(data)[start:end])  # no copy: the writer's buffer makes the one copy
        elif self._in_metadata:
            assert self._metadata is not None
            self._metadata += data[start:end]
            if len(self._metadata) > self._max_metadata:
                raise LimitExceededError(f"Metadata exceeds {self._max_metadata} bytes")

    def _on_part_end(self) -> None:
        self._in_file = self._in_metadata = False

    def _on_end(self) -> None:
        self._ended = True

    def _parser(self, boundary: bytes) -> MultipartParser:
        callbacks = {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }
        return MultipartParser(boundary, callbacks)  # type: ignore[arg-type]

    async def receive(self, open_writer: OpenWriter) -> ReceivedForm:
        boundary = self._boundary()
        writer: ObjectWriter | None = None
        try:
            body = await self._small_body()
            if body is not None:
                return await self._receive_small(body, boundary, open_writer)
            parser = self._parser(boundary)
            async for chunk in self._request.stream():
                parser.write(chunk)
                if self._file_seen and writer is None:
                    writer = await open_writer()
                if self._pending:
                    assert writer is not None
                    pending, self._pending = self._pending, []
                    for piece in pending:
                        await writer.write(piece)
            parser.finalize()
        except MultipartParseError:
            raise RequestSyntaxError() from None
        except ClientDisconnect:
            raise RequestSyntaxError("Upload interrupted") from None
        return await self._finish(writer, open_writer)

    async def _small_body(self) -> bytes | None:
        """The whole body when ``Content-Length`` announces at most smallform.MAX_BODY bytes
        (read here; a small body is one or two ASGI messages), else None: stream it."""
        length = header(self._request, b"content-length")
        if length is None or not length.isdigit() or int(length) > smallform.MAX_BODY:
            return None
        # The receive loop of Request.stream(), without an async generator: each one costs the
        # event loop's first-iteration hook, a weak-set entry and its finaliser.
        receive = self._request.receive
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                if body:
                    chunks.append(body)
                if not message.get("more_body", False):
                    return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _receive_small(self, body: bytes, boundary: bytes, open_writer: OpenWriter) -> ReceivedForm:
        """Take smallform's parts, or feed the parser the same bytes when the extractor declines.

        A part's headers are set as the header callbacks would set them (each name decoded and
        lower-cased, a repeated name's last value kept), then the same callbacks run from
        ``_on_headers_finished`` on: the same state either way, without three calls per header.
        """
        parts = smallform.extract(body, boundary)
        if parts is None:
            parser = self._parser(boundary)
            parser.write(body)
            parser.finalize()
        else:
            for part in parts:
                self._on_part_begin()
                headers = self._part.headers
                for name_start, name_end, value_start, value_end in part.headers:
                    headers[_decode(body[name_start:name_end]).lower()] = body[value_start:value_end]
                self._on_headers_finished()
                if part.data_end > part.data_start:
                    self._on_part_data(body, part.data_start, part.data_end)
                self._on_part_end()
            self._on_end()
        writer: ObjectWriter | None = None
        if self._file_seen:
            writer = await open_writer()
            pending, self._pending = self._pending, []
            for piece in pending:
                await writer.write(piece)
        return await self._finish(writer, open_writer)

    async def _finish(self, writer: ObjectWriter | None, open_writer: OpenWriter) -> ReceivedForm:
        if not self._ended:
            raise RequestSyntaxError()
        if self._file_seen and writer is None:
            writer = await open_writer()  # an empty file whose part ended in the last chunk
        part = self._file_part
        return ReceivedForm(
            has_file=self._file_seen,
            filename=part.filename if part else None,
            content_type=part.content_type if part else None,
            metadata=bytes(self._metadata) if self._metadata is not None else None,
        )
