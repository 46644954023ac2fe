"""http/headers.header gives Starlette's ``request.headers.get`` answer: the first value of the
name, latin-1 decoded, or None."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from gateway.http.headers import header, only_raw

RAW = [
    (b"host", b"example"),
    (b"range", b"bytes=0-9"),
    (b"x-api-key", b"first"),
    (b"x-api-key", b"second"),
    (b"if-range", '"caf\u00e9"'.encode("latin-1")),
    (b"empty", b""),
]


@pytest.mark.parametrize("name", ["host", "range", "x-api-key", "if-range", "empty", "authorization", "rang"])
def test_the_answer_is_starlettes(name: str) -> None:
    request = Request({"type": "http", "headers": RAW})
    assert header(request, name.encode()) == request.headers.get(name)


def test_the_first_of_repeated_headers_is_taken() -> None:
    assert header(Request({"type": "http", "headers": RAW}), b"x-api-key") == "first"


@pytest.mark.parametrize(("name", "expected"), [("range", b"bytes=0-9"), ("empty", b""), ("x-api-key", None),
                                                ("authorization", None)])  # fmt: skip
def test_only_raw_is_the_one_value_as_sent(name: str, expected: bytes | None) -> None:
    assert only_raw(Request({"type": "http", "headers": RAW}), name.encode()) == expected
