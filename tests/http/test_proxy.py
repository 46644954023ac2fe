"""X-Forwarded-For is believed only from trusted proxies, and only as addresses."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from gateway.http.proxy import client_info


def _request(peer: str, forwarded: bytes) -> Request:
    scope = {"type": "http", "client": (peer, 1234), "scheme": "http", "headers": [(b"x-forwarded-for", forwarded)]}
    return Request(scope)


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        (b"203.0.113.7", "203.0.113.7"),
        (b"198.51.100.1, 203.0.113.7", "203.0.113.7"),
        (b"evil\x1b[31m", "127.0.0.2"),  # not an address: the proxy's own address stays
        (b"203.0.113.7, a\r\nforged", "127.0.0.2"),
        (b"203.0.113.7, unknown", "127.0.0.2"),
        (b"2001:db8::1", "2001:db8::1"),
    ],
)
def test_forwarded_hop_must_be_an_address(forwarded: bytes, expected: str) -> None:
    assert client_info(_request("127.0.0.2", forwarded), ("127.0.0.2",)).address == expected


def test_untrusted_peer_forwarded_header_ignored() -> None:
    assert client_info(_request("192.0.2.9", b"203.0.113.7"), ("127.0.0.2",)).address == "192.0.2.9"
