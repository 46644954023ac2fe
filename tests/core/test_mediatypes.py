"""What a datatype may be when stored, and what a download says it is."""

from __future__ import annotations

import pytest

from gateway.core.mediatypes import MAX_MEDIA_TYPE_CHARS, is_active, is_media_type, served_as

VALID = [
    "text/plain",
    "text/plain; charset=utf-8",
    "text/plain;charset=UTF-8",
    'multipart/mixed; boundary="a b;c"',
    "application/vnd.ms-excel",
    "application/x-custom",
    "image/svg+xml",
    "a/" + "b" * (MAX_MEDIA_TYPE_CHARS - 2),
]
INVALID = [
    "",
    "text",
    "text/",
    "/plain",
    "text/plain\r\nSet-Cookie: a=b",
    "text/plain\n",
    "text/plain\x00",
    "text/plain\x7f",
    "text/pl\x85ain",
    "t\u00e9xt/plain",
    "text/plain; charset=\u202eutf8",
    "text plain",
    "text/plain; charset",
    'text/plain; a="unterminated',
    "a/" + "b" * (MAX_MEDIA_TYPE_CHARS - 1),
]


@pytest.mark.parametrize("value", VALID)
def test_valid_media_type_accepted(value: str) -> None:
    assert is_media_type(value)


@pytest.mark.parametrize("value", INVALID)
def test_invalid_media_type_refused_and_served_as_octet_stream(value: str) -> None:
    assert not is_media_type(value)
    assert served_as(value) == b"application/octet-stream"


@pytest.mark.parametrize(
    "value",
    [
        "text/html",
        "TEXT/HTML; charset=utf-8",
        "image/svg+xml",
        "application/xhtml+xml",
        "text/xml",
        "application/atom+xml",
        "application/javascript",
        "text/javascript",
    ],
)
def test_active_types_served_as_octet_stream(value: str) -> None:
    assert is_active(value)
    assert served_as(value) == b"application/octet-stream"


@pytest.mark.parametrize("value", ["text/plain; charset=utf-8", "application/pdf", "image/png", "text/csv"])
def test_passive_types_served_as_themselves(value: str) -> None:
    assert served_as(value) == value.encode("ascii")
