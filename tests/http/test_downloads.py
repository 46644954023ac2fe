"""``FileDownload`` hands a whole-file GET to the server (ASGI pathsend) when it can, else streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import anyio
import pytest
from hypothesis import given, strategies as st
from starlette.requests import Request
from starlette.types import Message

from gateway.catalog.records import FileRecord
from gateway.core import transfer_log
from gateway.core.tracked import TrackedReader
from gateway.http.downloads import FileDownload, content_disposition

pytestmark = pytest.mark.anyio

DATA = b"0123456789abcdefghij"
PATHSEND: dict[str, Any] = {"http.response.pathsend": {}}


class FakeReader:
    def __init__(self, local_path: str | None, in_memory: bool = False) -> None:
        self.local_path = local_path
        self.closed = False
        self.in_memory = in_memory
        self.taken_whole = 0

    @property
    def size(self) -> int:
        return len(DATA)

    async def iter_range(self, start: int, length: int, chunk_size: int = 8) -> AsyncIterator[bytes]:
        for offset in range(start, start + length, chunk_size):
            yield DATA[offset : min(offset + chunk_size, start + length)]

    def whole(self) -> bytes | None:
        if not self.in_memory:
            return None
        self.taken_whole += 1
        return DATA

    def interrupted(self) -> None:
        pass

    async def close(self) -> None:
        self.closed = True


def _record() -> FileRecord:
    return FileRecord(
        fileset=7, vfs="v", folder="/in", name="a.bin", storage="default", storage_key="k", size=len(DATA),
        sha256="00" * 32, datatype="", correlation_id="", description="", dst_file_name="", put_date=0,
        creation_time=0, last_modified_time=0, first_read_date=None, last_access_time=None, expiry_date=None,
        actor="A", uploaded_by="u",
    )  # fmt: skip


async def _run(reader: FakeReader, method: str = "GET", headers: Any = (), extensions: Any = None) -> list[Message]:
    scope: dict[str, Any] = {"type": "http", "method": method, "headers": list(headers), "path": "/"}
    if extensions is not None:
        scope["extensions"] = extensions
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive_never() -> Message:  # the client stays connected
        await anyio.sleep_forever()
        raise AssertionError

    await FileDownload(Request(scope), _record(), reader)(scope, receive_never, send)
    assert reader.closed
    return sent


def _body(sent: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def test_download_whole_file_with_pathsend_hands_the_path_to_the_server() -> None:
    sent = await _run(FakeReader("/srv/objects/ab/cd"), extensions=PATHSEND)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]
    assert sent[0]["status"] == 200 and (b"content-length", b"20") in sent[0]["headers"]
    assert sent[1]["path"] == "/srv/objects/ab/cd"


@pytest.mark.parametrize(
    ("local_path", "method", "headers", "extensions", "status", "body"),
    [
        ("/srv/x", "GET", (), None, 200, DATA),  # the server offers no pathsend
        ("/srv/x", "GET", (), {}, 200, DATA),
        (None, "GET", (), PATHSEND, 200, DATA),  # the reader has no local file
        ("/srv/x", "GET", [(b"range", b"bytes=5-9")], PATHSEND, 206, DATA[5:10]),  # pathsend is whole files
        ("/srv/x", "HEAD", (), PATHSEND, 200, b""),
    ],
    ids=["no-extension", "empty-extensions", "no-local-path", "range", "head"],
)
async def test_download_otherwise_streams(
    local_path: str | None, method: str, headers: Any, extensions: Any, status: int, body: bytes
) -> None:
    sent = await _run(FakeReader(local_path), method, headers, extensions)
    assert all(m["type"] != "http.response.pathsend" for m in sent)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == status
    assert _body(sent) == body
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert [m["more_body"] for m in bodies] == [True] * (len(bodies) - 1) + [False]


@pytest.mark.parametrize(
    ("method", "headers", "status", "body", "taken"),
    [
        ("GET", (), 200, DATA, 1),
        ("GET", [(b"range", b"bytes=0-")], 206, DATA, 1),  # the whole object, as a range
        ("GET", [(b"range", b"bytes=5-9")], 206, DATA[5:10], 0),  # a part: read as a range
        ("HEAD", (), 200, b"", 0),
    ],
)
async def test_a_small_object_in_memory_goes_in_one_message(
    method: str, headers: Any, status: int, body: bytes, taken: int
) -> None:
    reader = FakeReader(None, in_memory=True)
    sent = await _run(reader, method, headers)
    assert sent[0]["status"] == status and _body(sent) == body
    assert reader.taken_whole == taken
    if taken:
        assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
        assert sent[1]["more_body"] is False


@pytest.mark.parametrize(("headers", "counted"), [((), len(DATA)), ([(b"range", b"bytes=5-9")], 5)])
@pytest.mark.parametrize("in_memory", [True, False])
async def test_the_transfer_row_counts_what_was_sent_once(headers: Any, counted: int, in_memory: bool) -> None:
    tracker = transfer_log.begin(
        None,  # type: ignore[arg-type]  # an unrecorded tracker never reaches the catalog
        direction="download", protocol="https", source="v:/in/a.bin", destination="c", partner="A", owner="u",
        recorded=False,
    )  # fmt: skip
    inner = FakeReader(None, in_memory=in_memory)
    scope: dict[str, Any] = {"type": "http", "method": "GET", "headers": list(headers), "path": "/"}

    async def send(message: Message) -> None:
        pass

    async def receive_never() -> Message:
        await anyio.sleep_forever()
        raise AssertionError

    await FileDownload(Request(scope), _record(), TrackedReader(inner, tracker))(scope, receive_never, send)
    assert inner.closed
    assert (tracker.status, tracker.bytes_transferred) == ("completed", counted)


async def test_download_of_more_than_one_chunk_stops_reading_when_the_client_leaves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past one chunk, a watcher ends the download when the client disconnects (the server's
    send() would otherwise keep returning while the rest of the file is read for nobody)."""
    monkeypatch.setattr("gateway.http.downloads.CHUNK_SIZE", 8)
    read: list[bytes] = []

    class SlowReader(FakeReader):
        async def iter_range(self, start: int, length: int, chunk_size: int = 8) -> AsyncIterator[bytes]:
            async for chunk in super().iter_range(start, length, chunk_size):
                read.append(chunk)
                yield chunk
                await anyio.sleep(0.05)

    reader = SlowReader(None)
    scope: dict[str, Any] = {"type": "http", "method": "GET", "headers": [], "path": "/"}

    async def send(message: Message) -> None:
        pass

    async def receive() -> Message:
        await anyio.sleep(0.01)
        return {"type": "http.disconnect"}

    await FileDownload(Request(scope), _record(), reader)(scope, receive, send)
    assert reader.closed
    assert len(read) == 1  # 20 bytes in 8-byte chunks: the last two were never read


@given(st.text(max_size=40) | st.text(st.characters(min_codepoint=0, max_codepoint=0x80), max_size=40))
def test_content_disposition_keeps_exactly_the_printable_ascii_name(name: str) -> None:
    """The fast check (printable ASCII, no quote or backslash) changes nothing: the header is the
    one the character-by-character rule gives."""
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else "_" for c in name)
    expected = f'attachment; filename="{fallback}"'
    if fallback != name:
        expected += f"; filename*=UTF-8''{quote(name, safe='', errors='replace')}"
    assert content_disposition(name) == expected
