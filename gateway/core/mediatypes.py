"""A file's ``datatype``: what may be stored, and what a download's ``Content-Type`` says.

The datatype is stored from the upload part's ``Content-Type`` or from ``POST /2.0/metadata``
and sent back in a response header, so it is checked at both ends: :func:`is_media_type` refuses
at store time anything but an RFC 9110 media type in printable ASCII (no control character can
reach a header), and :func:`served_as` never lets a stored value break or widen a response — a
row written before this check, or by hand, is served as ``application/octet-stream``.

Which types are served as themselves: every valid media type except those a browser would run
or render as a document (HTML, XHTML, SVG, XML, JavaScript, ...), which are served as
``application/octet-stream``. Downloads are attachments with ``nosniff`` and a sandboxing CSP
anyway (gateway.http.downloads); this is the third layer. The stored datatype itself is
unchanged and shown as it is by the metadata endpoints.
"""

from __future__ import annotations

import functools
import re

OCTET_STREAM = "application/octet-stream"
MAX_MEDIA_TYPE_CHARS = 255
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e]|\\[\t \x21-\x7e])*"'
_MEDIA_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|{_QUOTED}))*[ \t]*", re.ASCII)
# Rendered or executed by a browser when served as themselves.
_ACTIVE = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "application/xslt+xml",
        "text/javascript",
        "application/javascript",
        "application/ecmascript",
        "text/ecmascript",
        "application/x-javascript",
        "text/vtt",
        "multipart/x-mixed-replace",
    }
)


def is_media_type(value: str) -> bool:
    """Whether ``value`` is one ``type/subtype[; name=value]...`` in printable ASCII, at most 255 chars."""
    return len(value) <= MAX_MEDIA_TYPE_CHARS and _MEDIA_TYPE.fullmatch(value) is not None


def is_active(value: str) -> bool:
    """Whether a browser would render or run content of this media type (parameters ignored)."""
    essence = value.split(";", 1)[0].strip().lower()
    return essence in _ACTIVE or essence.endswith("+xml")


@functools.lru_cache(maxsize=1024)
def served_as(datatype: str) -> bytes:
    """The ``Content-Type`` of a download of a file stored with ``datatype`` (never raises).

    Cached: a catalog holds a handful of distinct datatypes, and every download asks."""
    if not datatype or not is_media_type(datatype) or is_active(datatype):
        return OCTET_STREAM.encode("ascii")
    return datatype.strip().encode("ascii")
