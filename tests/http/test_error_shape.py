"""Every failure, whatever raised it, leaves the gateway as exactly one envelope shape."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway import errors
from gateway.http import exception_handlers
from tests.http.conftest import login

SPEC_ERROR_TYPES = {"request_syntax", "configuration", "authentication", "authorization", "io", "syntax_error"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _all_subclasses(cls: type[errors.GatewayError]) -> list[type[errors.GatewayError]]:
    found: list[type[errors.GatewayError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


def _instance(cls: type[errors.GatewayError]) -> errors.GatewayError:
    if issubclass(cls, errors.InvalidParameterError):
        return cls("limit", "bad")
    if issubclass(cls, exception_handlers.RangeNotSatisfiableError):
        return cls(10)
    return cls()


def test_status_table_every_gateway_error_has_a_status() -> None:
    classes: list[type[errors.GatewayError]] = [errors.GatewayError, *_all_subclasses(errors.GatewayError)]
    for cls in classes:
        exc = _instance(cls)
        assert exception_handlers.status_for(exc) in range(400, 600), cls


def test_status_table_every_spec_error_type_is_produced() -> None:
    produced = {cls.error_type for cls in _all_subclasses(errors.GatewayError)}
    assert SPEC_ERROR_TYPES <= produced


def _assert_envelope(body: Any, error_type: str) -> None:
    assert set(body) == {"result", "timestamp", "message", "errorType"}
    assert body["result"] == "failed" and body["errorType"] == error_type
    assert TIMESTAMP.match(body["timestamp"])
    assert "Traceback" not in body["message"]


FAILING: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("GET", "/2.0/files/inbox/none.txt", {}, 404, "io"),
    ("GET", "/2.0/files/nope/none.txt", {}, 404, "io"),
    ("GET", "/2.0/files/inbox/", {}, 400, "request_syntax"),
    ("GET", "/2.0/files/inbox/%2e%2e/x", {}, 400, "request_syntax"),
    ("DELETE", "/2.0/files/inbox/", {}, 400, "syntax_error"),
    ("PUT", "/2.0/files/inbox/a.txt", {"content": b"raw"}, 400, "request_syntax"),
    ("POST", "/2.0/metadata/inbox/a.txt", {"content": b"[1]", "headers": {"content-type": "application/json"}}, 400,
     "request_syntax"),
    ("GET", "/2.0/directories/inbox?sort=weight", {}, 400, "request_syntax"),
    ("GET", "/2.0/countelements/missing", {}, 404, "io"),
    ("GET", "/2.0/no-such-endpoint", {}, 404, "request_syntax"),
    ("PATCH", "/2.0/files/inbox/a.txt", {}, 405, "request_syntax"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "url", "kwargs", "status", "error_type"), FAILING)
def test_error_shape_failing_requests_use_the_envelope(
    client: TestClient, method: str, url: str, kwargs: dict[str, Any], status: int, error_type: str
) -> None:
    login(client, "alice")
    response = client.request(method, url, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    _assert_envelope(response.json(), error_type)


def test_error_shape_unexpected_exception_is_500_without_traceback(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    login(client, "alice")

    async def boom(*args: object, **kwargs: object) -> int:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("gateway.core.listing.count", boom)
    response = client.get("/2.0/countelements/inbox")
    assert response.status_code == 500
    body = response.json()
    _assert_envelope(body, "server")
    assert "secret internal detail" not in response.text


def test_error_shape_io_error_hides_os_detail(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    login(client, "alice")

    async def broken(*args: object, **kwargs: object) -> int:
        raise errors.IoError("/var/lib/secret/path: Permission denied")

    monkeypatch.setattr("gateway.core.listing.count", broken)
    response = client.get("/2.0/countelements/inbox")
    assert response.status_code == 500
    _assert_envelope(response.json(), "io")
    assert "/var/lib" not in response.text
