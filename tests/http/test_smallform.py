"""The small-body extractor reports exactly what python-multipart's callbacks would, or declines.

Each body is fed to both: when ``smallform.extract`` accepts it, the sequence of events it
implies (part begin, header name and value bytes, data bytes, part end, end) must equal the
sequence the streaming parser produces for the same bytes; when it declines, nothing is
claimed (the upload path then uses the parser itself).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from python_multipart.multipart import MultipartParser, parse_options_header

from gateway.http import smallform

BOUNDARY = b"----b0undary42"


def parser_events(body: bytes, boundary: bytes) -> list[tuple[Any, ...]] | None:
    """python-multipart's events, adjacent data pieces merged; None if it rejects the body."""
    events: list[tuple[Any, ...]] = []

    def data(kind: str) -> Any:
        def cb(buf: bytes, start: int, end: int) -> None:
            if events and events[-1][0] == kind:
                events[-1] = (kind, events[-1][1] + bytes(buf[start:end]))
            else:
                events.append((kind, bytes(buf[start:end])))

        return cb

    def mark(kind: str) -> Any:
        return lambda: events.append((kind,))

    callbacks = {
        "on_part_begin": mark("begin"),
        "on_header_field": data("field"),
        "on_header_value": data("value"),
        "on_header_end": mark("header_end"),
        "on_headers_finished": mark("headers_done"),
        "on_part_data": data("data"),
        "on_part_end": mark("part_end"),
        "on_end": mark("end"),
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        parser.write(body)
        parser.finalize()
    except Exception:
        return None
    return events


def extractor_events(body: bytes, parts: list[smallform.Part]) -> list[tuple[Any, ...]]:
    events: list[tuple[Any, ...]] = []
    for part in parts:
        events.append(("begin",))
        for ns, ne, vs, ve in part.headers:
            events.append(("field", body[ns:ne]))
            if ve > vs:
                events.append(("value", body[vs:ve]))
            events.append(("header_end",))
        events.append(("headers_done",))
        if part.data_end > part.data_start:
            events.append(("data", body[part.data_start : part.data_end]))
        events.append(("part_end",))
    events.append(("end",))
    return events


def form(*parts: tuple[list[bytes], bytes], boundary: bytes = BOUNDARY, epilogue: bytes = b"\r\n") -> bytes:
    out = b""
    for headers, data in parts:
        out += b"--" + boundary + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + data + b"\r\n"
    return out + b"--" + boundary + b"--" + epilogue


FILE = [b'Content-Disposition: form-data; name="file"; filename="a.edi"', b"Content-Type: text/plain"]
META = [b'Content-Disposition: form-data; name="metadata"']


def test_a_plain_upload_is_extracted_exactly() -> None:
    body = form((META, b'{"a":"b"}'), (FILE, bytes(range(256)) * 16))
    parts = smallform.extract(body, BOUNDARY)
    assert parts is not None and len(parts) == 2
    assert extractor_events(body, parts) == parser_events(body, BOUNDARY)


@pytest.mark.parametrize(
    "body",
    [
        b"\r\n" + form((FILE, b"x")),  # a preamble: the parser skips it, the extractor leaves it to it
        form((FILE, b"x")).replace(b"\r\n--" + BOUNDARY + b"--", b"\r\n--" + BOUNDARY + b"  \r\n--" + BOUNDARY + b"--"),
        form((FILE, b"a\r\n--" + BOUNDARY + b"X b")),  # boundary-like text inside the data
        form(([b"Bad Header: x"], b"x")),  # a space in a header name
        form(([b"X: a\rb"], b"x")),  # a bare CR in a value
        form(*[(FILE, b"x")] * 9),  # more parts than the extractor takes
        form(([b"X-%d: y" % i for i in range(9)], b"x")),  # more headers than the parser allows
        form((FILE, b"x"))[:-8],  # no closing boundary
        b"--" + BOUNDARY + b"--\r\n",  # no part at all
        form(([], b"x")),  # a part without headers
        b"x" * (smallform.MAX_BODY + 1),
    ],
)
def test_the_unusual_is_left_to_the_parser(body: bytes) -> None:
    assert smallform.extract(body, BOUNDARY) is None


def test_after_the_closing_boundary_anything_is_ignored_as_by_the_parser() -> None:
    body = form((FILE, b"data"), epilogue=b"\r\ntrailing junk")
    parts = smallform.extract(body, BOUNDARY)
    assert parts is not None
    assert extractor_events(body, parts) == parser_events(body, BOUNDARY)


_PIECES = st.sampled_from(
    [b"-", b"--", b"\r", b"\n", b"\r\n", b":", b" ", b"\t", b"a", b"Z", b"\x00", b"\xff", BOUNDARY, b"--" + BOUNDARY]
)
_DATA = st.lists(_PIECES, max_size=12).map(b"".join)
_HEADER = st.tuples(st.sampled_from([b"Content-Type", b"X", b"Content-Disposition", b"a b", b""]), _DATA).map(
    lambda t: t[0] + b":" + t[1]
)


@settings(max_examples=400, deadline=None)
@given(
    parts=st.lists(st.tuples(st.lists(_HEADER, min_size=0, max_size=3), _DATA), min_size=1, max_size=3),
    epilogue=_DATA,
    noise=st.tuples(st.integers(min_value=0, max_value=400), _DATA),
)
def test_whatever_it_accepts_the_parser_reads_the_same(
    parts: list[tuple[list[bytes], bytes]], epilogue: bytes, noise: tuple[int, bytes]
) -> None:
    body = form(*parts, epilogue=epilogue)
    at, junk = noise
    at = min(at, len(body))
    for candidate in (body, body[:at] + junk + body[at:]):
        extracted = smallform.extract(candidate, BOUNDARY)
        if extracted is not None:
            assert extractor_events(candidate, extracted) == parser_events(candidate, BOUNDARY)


# Header values built from the characters that steer the parser: separators, quotes, escapes,
# whitespace, extended-parameter stars, letters of both cases and latin-1 beyond ASCII.
_OPTION_CHARS = st.sampled_from(list(';="\\* \tnameAFileX.-éÿ\x00'))
_OPTION_VALUES = st.one_of(
    st.text(_OPTION_CHARS, max_size=40),
    st.builds(
        lambda kind, params: kind + "".join(params),
        st.sampled_from(["form-data", "multipart/form-data", " Form-Data ", "attachment", ""]),
        st.lists(
            st.builds(
                lambda sep, key, eq, value: f"{sep}{key}{eq}{value}",
                st.sampled_from([";", "; ", ";\t", " ; "]),
                st.sampled_from(["name", "filename", "Boundary", " NAME ", "", "x y"]),
                st.sampled_from(["=", " = ", "", "=="]),
                st.one_of(
                    st.text(_OPTION_CHARS, max_size=12), st.text(_OPTION_CHARS, max_size=10).map(lambda v: f'"{v}"')
                ),
            ),
            max_size=4,
        ),
    ),
)


@settings(max_examples=3000, deadline=None)
@given(_OPTION_VALUES)
def test_options_header_answers_as_python_multipart(value: str) -> None:
    assert smallform.options_header(value) == parse_options_header(value)
    raw = value.encode("latin-1")
    assert smallform.options_header(raw) == parse_options_header(raw)


@pytest.mark.parametrize(
    "value",
    [
        'form-data; name="file"; filename="a.txt"',
        "multipart/form-data; boundary=------------------------d74496d66958873e",
        'form-data; name="file"; filename="x;y.txt"',  # a ";" inside quotes: the parser's case
        'form-data; name="file"; filename="C:\\\\dir\\\\a.txt"',
        "form-data; name=\"file\"; filename*=UTF-8''%C3%A9.txt",
    ],
)
def test_options_header_on_the_shapes_clients_send(value: str) -> None:
    assert smallform.options_header(value) == parse_options_header(value)
