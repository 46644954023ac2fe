"""Virtual paths: the one validator every endpoint goes through.

A path reaches the core only as a :class:`VirtualPath`, built from the *raw* (still
percent-encoded) request path so that ``%2F`` inside a segment can be told apart from a
separator. Validation follows the partner API contract: each segment is decoded exactly once
and must be non-empty, not ``.``/``..``, free of NUL/control characters and backslashes, at most
255 bytes, with the whole path at most 4096 bytes; names are NFC-normalised so that two
spellings of one name are one name (ACLs and the catalog see only the canonical form).

The complete name policy (docs/api.md, "Paths"): also refused are invisible characters (every
Unicode "format" character, Cf: bidi overrides, zero-width characters, the BOM; and other
invisible look-alikes: non-space separators, Hangul fillers, the braille blank, the combining
grapheme joiner, private-use and unassigned code points), ``:`` (a drive or stream separator on
Windows), ``%`` not followed by two hex digits, and paths of more than MAX_DEPTH segments.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from urllib.parse import unquote_to_bytes

from gateway.errors import InvalidPathError
from gateway.frozen import frozen

MAX_SEGMENT_BYTES = 255
MAX_PATH_BYTES = 4096  # the path as the API shows it: segments joined by "/", no leading slash
MAX_DEPTH = 64  # segments in one path
# Printable ASCII without separators or ":": NFC already, and free of what is checked one by one.
_PLAIN = re.compile(r"[\x20-\x2e\x30-\x39\x3b-\x5b\x5d-\x7e]+")
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})
# Invisible, or blank where a letter seems to be, though not in a refused category.
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)


@frozen
class VirtualPath:
    """An absolute, validated path of name segments (``()`` is the root)."""

    segments: tuple[str, ...] = ()

    @property
    def is_root(self) -> bool:
        return not self.segments

    @property
    def name(self) -> str:
        return self.segments[-1] if self.segments else ""

    @property
    def parent(self) -> VirtualPath:
        return VirtualPath(self.segments[:-1])

    def child(self, name: str) -> VirtualPath:
        return VirtualPath((*self.segments, validate_segment(name)))

    def join(self, other: VirtualPath) -> VirtualPath:
        return VirtualPath(self.segments + other.segments)

    def is_within(self, ancestor: VirtualPath) -> bool:
        n = len(ancestor.segments)
        return self.segments[:n] == ancestor.segments

    def relative_to(self, ancestor: VirtualPath) -> VirtualPath:
        if not self.is_within(ancestor):
            raise ValueError(f"{self} is not within {ancestor}")
        return VirtualPath(self.segments[len(ancestor.segments) :])

    def ancestors(self) -> list[VirtualPath]:
        """Self first, then each parent up to and including the root."""
        return [VirtualPath(self.segments[:i]) for i in range(len(self.segments), -1, -1)]

    @property
    def text(self) -> str:
        """The path without a leading slash, as the API shows it (``inbox/archive``)."""
        return "/".join(self.segments)

    def __str__(self) -> str:
        return "/" + self.text


@frozen
class RequestPath:
    """A parsed request path: the segments plus whether the client ended it with ``/``."""

    path: VirtualPath
    trailing_slash: bool


@functools.lru_cache(maxsize=4096)
def validate_segment(raw: str) -> str:
    """Return the canonical (NFC) form of one decoded name, or raise InvalidPathError.

    Cached: a request meets the same few names several times (its path, its folder's children,
    the configured paths of its VFS), and a name's answer never changes. A refused name raises
    each time (exceptions are not cached)."""
    if raw == "":
        raise InvalidPathError("Invalid path: empty segment")
    if _PLAIN.fullmatch(raw):  # the common case: printable ASCII needs no per-character checks
        name = raw
    else:
        name = unicodedata.normalize("NFC", raw)
        _check_characters(name)
    if name in (".", ".."):
        raise InvalidPathError("Invalid path: '.' and '..' segments are not allowed")
    if len(name.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise InvalidPathError(f"Invalid path: a name is longer than {MAX_SEGMENT_BYTES} bytes")
    if name[-1] in ". " or name[0] == " ":
        raise InvalidPathError("Invalid path: names may not start with a space or end with a dot or space")
    if name.split(".", 1)[0].upper().rstrip() in _WINDOWS_DEVICES:
        raise InvalidPathError("Invalid path: reserved device name")
    return name


def _check_characters(name: str) -> None:
    if name in (".", ".."):
        raise InvalidPathError("Invalid path: '.' and '..' segments are not allowed")
    for ch in name:
        if ch == "/" or ch == "\\" or ch == ":":
            raise InvalidPathError("Invalid path: separator characters inside a name")
        category = unicodedata.category(ch)
        if category in _REFUSED_CATEGORIES and ch != " ":
            if category == "Cc":
                raise InvalidPathError("Invalid path: control characters are not allowed")
            raise InvalidPathError("Invalid path: invisible or unassigned characters are not allowed")
        if ch in _INVISIBLE:
            raise InvalidPathError("Invalid path: invisible or unassigned characters are not allowed")


def parse_raw(raw: bytes) -> RequestPath:
    """Parse a still-percent-encoded, ``/``-separated path (no leading slash needed).

    ``b""`` and ``b"/"`` are the root. A single trailing slash is allowed and reported, because
    the API distinguishes ``files/inbox/`` (no file name) from ``files/inbox``.
    """
    if len(raw) > MAX_PATH_BYTES * 3 + 2:  # every byte percent-encoded, a leading and a trailing "/"
        raise InvalidPathError(f"Invalid path: longer than {MAX_PATH_BYTES} bytes")
    escaped = b"%" in raw  # most paths have no escape: their segments are decoded as they are
    if escaped and _BAD_ESCAPE.search(raw):
        raise InvalidPathError("Invalid path: invalid percent-encoding")
    text = raw[1:] if raw.startswith(b"/") else raw
    if text == b"":
        return RequestPath(VirtualPath(), trailing_slash=False)
    trailing = text.endswith(b"/")
    if trailing:
        text = text[:-1]
    parts = text.split(b"/")
    if len(parts) > MAX_DEPTH:
        raise InvalidPathError(f"Invalid path: more than {MAX_DEPTH} segments")
    segments: list[str] = []
    total = -1  # a "/" between two segments, none before the first
    for part in parts:
        try:
            decoded = (unquote_to_bytes(part) if escaped else part).decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            raise InvalidPathError("Invalid path: not valid UTF-8") from None
        name = validate_segment(decoded)
        total += len(name.encode("utf-8")) + 1
        if total > MAX_PATH_BYTES:
            raise InvalidPathError(f"Invalid path: longer than {MAX_PATH_BYTES} bytes")
        segments.append(name)
    return RequestPath(VirtualPath(tuple(segments)), trailing_slash=trailing)


def parse_config_path(text: str) -> VirtualPath:
    """Parse a path written in configuration (``/inbox/archive``; not percent-encoded)."""
    stripped = text.strip("/")
    if not stripped:
        return VirtualPath()
    return VirtualPath(tuple(validate_segment(s) for s in stripped.split("/")))
