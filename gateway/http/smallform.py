"""A ``multipart/form-data`` part extractor for small bodies already in memory.

python-multipart walks a body byte-state by byte-state and costs tens of µs for one 4 KiB part;
a small upload (the EDI message, the B2B document) is all there is of most traffic. For a body
of at most :data:`MAX_BODY` bytes, received whole, :func:`extract` finds the parts with
``bytes.find`` and reports them as a list of :class:`Part`; :class:`~gateway.http.upload.MultipartSource`
then takes each part's headers as the streaming parser's header callbacks would have set them,
and runs its remaining callbacks in the order the parser would.

Only the plain shape is taken: the body starts with the boundary line, each part has 1-8 header
lines of token names, and each part's data ends at ``CRLF--boundary`` followed by ``CRLF`` or
``--``. Anything else (a preamble, boundary padding, a boundary-like line inside the data, odd
header bytes, too many headers or parts) returns None, and the same bytes go to the streaming
parser: its answer, error or not, is the answer. So the extractor never decides what is valid,
it only recognises what the parser would accept the same way.
"""

from __future__ import annotations

from python_multipart.multipart import parse_options_header

from gateway.frozen import frozen

MAX_BODY = 64 * 1024
_MAX_PARTS = 8
_MAX_HEADERS = 8  # python-multipart's default per part; more is its error to report
_MAX_HEADER_LINE = 4096
# Header names: RFC 9110 token characters, as python-multipart checks them.
_TOKEN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~")


@frozen
class Part:
    """Offsets into the body: each header as (name start, name end, value start, value end), then the data."""

    headers: tuple[tuple[int, int, int, int], ...]
    data_start: int
    data_end: int


def _headers(body: bytes, start: int, end: int) -> tuple[tuple[int, int, int, int], ...] | None:
    """The header lines of ``body[start:end]`` (without the blank line), or None if unusual."""
    found: list[tuple[int, int, int, int]] = []
    pos = start
    while pos < end:
        line_end = body.find(b"\r\n", pos, end)
        if line_end == -1:
            line_end = end
        if line_end - pos > _MAX_HEADER_LINE or len(found) == _MAX_HEADERS:
            return None
        colon = body.find(b":", pos, line_end)
        if colon <= pos or not _TOKEN.issuperset(body[pos:colon]):
            return None
        value = colon + 1
        while value < line_end and body[value] == 0x20:  # the parser skips spaces, not tabs
            value += 1
        if body.find(b"\r", value, line_end) != -1 or body.find(b"\n", value, line_end) != -1:
            return None
        found.append((pos, colon, value, line_end))
        pos = line_end + 2
    return tuple(found) if found else None


def extract(body: bytes, boundary: bytes) -> list[Part] | None:
    """The parts of a complete body, ended by the closing boundary; None: use the streaming parser."""
    if len(body) > MAX_BODY:
        return None
    opening = b"--" + boundary
    delimiter = b"\r\n" + opening
    if not body.startswith(opening + b"\r\n"):
        return None
    parts: list[Part] = []
    pos = len(opening) + 2
    while len(parts) < _MAX_PARTS:
        head_end = body.find(b"\r\n\r\n", pos)
        if head_end == -1:
            return None
        headers = _headers(body, pos, head_end)
        if headers is None:
            return None
        data_start = head_end + 4
        data_end = body.find(delimiter, data_start)
        if data_end == -1:
            return None
        parts.append(Part(headers, data_start, data_end))
        after = data_end + len(delimiter)
        follow = body[after : after + 2]
        if follow == b"--":
            return parts  # whatever follows the closing boundary is ignored, as by the parser
        if follow != b"\r\n":
            return None
        pos = after + 2
    return None


def options_header(value: str | bytes) -> tuple[bytes, dict[bytes, bytes]]:
    """python-multipart's ``parse_options_header``, answered without it for the plain shape.

    Every upload parses two such headers (the request's ``Content-Type`` and the file part's
    ``Content-Disposition``), and the parser's quote-aware splitting costs more than the rest of
    the part's headers. When the value has parameters, no backslash, no ``*``, no ``=`` before
    the first ``;`` and an even number of quotes between any two ``;``, that splitting is a plain
    ``split(";")`` and no escape, extended parameter or IE file path can occur: the answer is
    computed here, the same way. Anything else goes to ``parse_options_header`` itself.
    (tests/http/test_smallform.py checks the two agree on arbitrary values.)
    """
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    if ";" not in text or "\\" in text or "*" in text:
        return parse_options_header(value)
    pieces = text.split(";")
    if "=" in pieces[0] or any(p.count('"') % 2 for p in pieces):
        return parse_options_header(value)
    options: dict[bytes, bytes] = {}
    for piece in pieces[1:]:
        key, sep, val = piece.partition("=")
        if sep:
            key, val = key.strip(" \t").lower(), val.strip(" \t")
            if len(val) >= 2 and val[0] == '"' and val[-1] == '"':
                val = val[1:-1]
        else:
            key = key.strip(" \t")
        options[key.encode("latin-1")] = val.encode("latin-1")
    return pieces[0].strip(" \t").lower().encode("latin-1"), options
