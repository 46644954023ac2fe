"""A small body read through smallform's parts ends in the same state as through python-multipart.

``MultipartSource`` takes the extractor's parts without replaying the parser's per-header
callbacks; whatever the body, the outcome (the form, the file's bytes, the metadata, or the
error raised) must be the one the streaming parser's callbacks give for the same bytes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from gateway.errors import GatewayError
from gateway.http import smallform
from gateway.http.upload import MultipartSource
from gateway.storage.base import ObjectWriter

BOUNDARY = b"----b0undary42"


class _Writer:
    def __init__(self) -> None:
        self.data = bytearray()

    async def write(self, data: bytes | memoryview) -> None:
        self.data += data


def _outcome(body: bytes, *, extractor: bool) -> tuple[Any, ...]:
    writers: list[_Writer] = []

    async def open_writer() -> ObjectWriter:
        writers.append(_Writer())
        return writers[-1]  # type: ignore[return-value]

    with pytest.MonkeyPatch.context() as m:
        if not extractor:
            m.setattr(smallform, "extract", lambda body, boundary: None)
        source = MultipartSource(None, max_metadata_bytes=64)  # type: ignore[arg-type]
        try:
            form = asyncio.run(source._receive_small(body, BOUNDARY, open_writer))
        except GatewayError as exc:
            return ("error", type(exc), str(exc), len(writers))
    return ("form", form, [bytes(w.data) for w in writers])


def _form(*parts: tuple[list[bytes], bytes]) -> bytes:
    out = b""
    for headers, data in parts:
        out += b"--" + BOUNDARY + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + data + b"\r\n"
    return out + b"--" + BOUNDARY + b"--\r\n"


_DISPOSITIONS = st.sampled_from(
    [
        b'form-data; name="file"; filename="a.edi"',
        b"form-data; name=file; filename*=UTF-8''%C3%A9t%C3%A9.txt",
        b"form-data; name=file; filename*=bogus''%ff",
        b'form-data; name="metadata"',
        b'form-data; name="other"',
        b"form-data",
        b"attachment; name=file",
        b'form-data; name="file"; filename="\xc3\xa9.edi"',
        b'form-data; name="file"; filename="\xe9.edi"',
    ]
)
_HEADER = st.one_of(
    _DISPOSITIONS.map(lambda v: b"Content-Disposition: " + v),
    _DISPOSITIONS.map(lambda v: b"content-DISPOSITION:" + v),
    st.sampled_from([b"Content-Type: text/plain", b"Content-Type:", b"X-Extra: 1", b"Content-Type: a/b; c=d"]),
)
_DATA = st.one_of(
    st.sampled_from([b"", b"x", b'{"a":"b"}', b"{" + b"x" * 80 + b"}", bytes(range(256))]),
    st.binary(max_size=40),
)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.tuples(st.lists(_HEADER, min_size=1, max_size=3), _DATA), min_size=1, max_size=3))
def test_the_extractors_parts_end_as_the_parsers_callbacks_do(parts: list[tuple[list[bytes], bytes]]) -> None:
    body = _form(*parts)
    assert _outcome(body, extractor=True) == _outcome(body, extractor=False)


def test_a_plain_upload_takes_the_extractors_path() -> None:
    body = _form(
        ([b'Content-Disposition: form-data; name="metadata"'], b'{"k":"v"}'),
        ([b'Content-Disposition: form-data; name="file"; filename="a.edi"', b"Content-Type: text/plain"], b"EDI"),
    )
    assert smallform.extract(body, BOUNDARY) is not None
    kind, form, written = _outcome(body, extractor=True)
    assert kind == "form" and written == [b"EDI"]
    assert (form.has_file, form.filename, form.content_type) == (True, "a.edi", "text/plain")
    assert form.metadata == b'{"k":"v"}'
