"""A remembered Cookie header gives the answer a fresh parse would, and nothing a fresh parse
would refuse: gateway/http/session.py's ``_Known``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.requests import Request
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.catalog import sessions
from gateway.core.principal import Principal
from gateway.core.runtime import Runtime
from gateway.errors import AuthenticationError
from gateway.http import session
from gateway.settings import Settings
from tests.http.conftest import login

PROXY = "127.0.0.2"  # trusted_proxies in the test configuration


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def _runtime(client: TestClient) -> Runtime:
    rt = client.app.state.holder.runtime  # type: ignore[attr-defined]
    assert isinstance(rt, Runtime)
    return rt


def _cookie(client: TestClient) -> bytes:
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items()).encode()


def _request(cookie: bytes | list[bytes], peer: str = "192.0.2.10", **headers: bytes) -> Request:
    cookies = cookie if isinstance(cookie, list) else [cookie]
    raw = [(b"cookie", c) for c in cookies] + [(k.replace("_", "-").encode(), v) for k, v in headers.items()]
    return Request({"type": "http", "client": (peer, 5555), "scheme": "http", "headers": raw})


def _principal(client: TestClient, request: Request) -> Principal:
    rt = _runtime(client)
    portal = client.portal
    assert portal is not None
    principal, _ = portal.call(session.cookie_principal, rt, request)
    return principal


def _fresh(client: TestClient, request: Request) -> Principal:
    rt = _runtime(client)
    user = rt.config.users["alice"]
    return session.principal_for(rt, user, request)


def test_the_same_header_gives_the_same_principal_as_a_fresh_parse(client: TestClient) -> None:
    login(client, "alice")
    first = _principal(client, _request(_cookie(client)))
    again = _principal(client, _request(_cookie(client)))
    assert again is first  # remembered
    assert again == _fresh(client, _request(_cookie(client)))
    assert (again.user, again.client_address, again.protocol) == ("alice", "192.0.2.10", "http")


def test_another_client_gets_its_own_address(client: TestClient) -> None:
    login(client, "alice")
    cookie = _cookie(client)
    assert _principal(client, _request(cookie, "192.0.2.10")).client_address == "192.0.2.10"
    assert _principal(client, _request(cookie, "198.51.100.4")).client_address == "198.51.100.4"
    assert _principal(client, _request(cookie, "192.0.2.10")).client_address == "192.0.2.10"


def test_forwarded_headers_from_a_trusted_proxy_still_count(client: TestClient) -> None:
    login(client, "alice")
    cookie = _cookie(client)
    one = _principal(client, _request(cookie, PROXY, x_forwarded_for=b"203.0.113.7"))
    two = _principal(client, _request(cookie, PROXY, x_forwarded_for=b"203.0.113.8", x_forwarded_proto=b"https"))
    assert (one.client_address, one.protocol) == ("203.0.113.7", "http")
    assert (two.client_address, two.protocol) == ("203.0.113.8", "https")
    again = _principal(client, _request(cookie, PROXY, x_forwarded_for=b"203.0.113.7"))
    assert (again.client_address, again.protocol) == ("203.0.113.7", "http")


def test_a_revoked_session_is_refused_though_remembered(client: TestClient) -> None:
    login(client, "alice")
    cookie = _cookie(client)
    _principal(client, _request(cookie))
    assert cookie in session._known
    portal = client.portal
    assert portal is not None
    assert portal.call(sessions.revoke, _runtime(client).db, client.cookies[session.SESSION_COOKIE])
    with pytest.raises(AuthenticationError):
        _principal(client, _request(cookie))
    assert cookie not in session._known


def test_a_header_that_does_not_authenticate_is_not_remembered(client: TestClient) -> None:
    login(client, "alice")
    forged = f"{session.USER_COOKIE}=alice; {session.SESSION_COOKIE}=not-a-token".encode()
    with pytest.raises(AuthenticationError):
        _principal(client, _request(forged))
    assert forged not in session._known


def test_the_user_cookie_must_still_match_the_session(client: TestClient) -> None:
    login(client, "alice")
    token = client.cookies[session.SESSION_COOKIE]
    _principal(client, _request(_cookie(client)))
    other = f"{session.SESSION_COOKIE}={token}; {session.USER_COOKIE}=bob".encode()
    with pytest.raises(AuthenticationError):
        _principal(client, _request(other))


def test_several_cookie_headers_are_parsed_together_every_time(client: TestClient) -> None:
    login(client, "alice")
    parts = [f"{k}={v}".encode() for k, v in client.cookies.items()]
    principal = _principal(client, _request(parts))
    assert principal.user == "alice"
    assert not any(key in session._known for key in parts)
