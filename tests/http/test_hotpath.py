"""The hot path (http/hotpath.py) against Starlette's stack: for the same handler, the same
messages go to the server, the same exception (if any) comes out of the app, and the same access
line is logged, whatever the handler does: answer, fail with a handled or an unhandled error
before or after its response started, or wait too long for a body."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import errors
from gateway.http import deadline, routes  # noqa: F401  (routes registers the anypath convertor)
from gateway.http.accesslog import EXTRA_HEADERS, AccessLogMiddleware
from gateway.http.deadline import BodyDeadlineMiddleware
from gateway.http.exception_handlers import HANDLERS
from gateway.http.hotpath import GatewayApp, HotPath

pytestmark = pytest.mark.anyio
MIDDLEWARE = [Middleware(AccessLogMiddleware), Middleware(BodyDeadlineMiddleware)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _hot_app(handler: Callable[..., Any]) -> GatewayApp:
    """No routes at all: whatever this app answers on /2.0/files/ came through the hot path."""

    class App(GatewayApp):
        hot = {"GET": handler, "HEAD": handler, "PUT": handler, "POST": handler}

    return App(routes=[], exception_handlers=HANDLERS, middleware=MIDDLEWARE)


def _routed_app(handler: Callable[..., Any]) -> Starlette:
    route = Route("/2.0/files/{path:anypath}", handler, methods=["GET", "PUT", "POST"])
    return Starlette(routes=[route], exception_handlers=HANDLERS, middleware=MIDDLEWARE)


async def _drive(
    app: ASGIApp, method: str, path: str, body: list[bytes] | None, caplog: pytest.LogCaptureFixture
) -> tuple[list[Any], str, str]:
    """(messages sent, the exception's repr or "", the access line without its time)."""
    headers = [(b"host", b"test"), (b"x-request-id", b"fixed-id")]
    pieces = list(body or [])
    if body is not None:
        headers.append((b"content-length", str(sum(map(len, pieces)) or 1).encode()))
    scope = {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": headers, "client": ("127.0.0.1", 5000), "server": ("test", 80),
        "scheme": "http", "http_version": "1.1", "asgi": {"version": "3.0"},
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        if not pieces:
            await asyncio.sleep(30)  # a client that stopped sending
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": pieces.pop(0), "more_body": False}

    sent: list[Any] = []

    async def send(message: Message) -> None:
        if "body" in message:  # the envelope's timestamp is the only thing allowed to differ
            message = {**message, "body": re.sub(rb'"timestamp":"[^"]*"', b'"timestamp":"T"', message["body"])}
        sent.append(message)

    caplog.clear()
    raised = ""
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        try:
            await app(scope, receive, send)
        except Exception as exc:
            raised = f"{type(exc).__name__}: {exc} (from {type(exc.__cause__).__name__})"
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.access"]
    assert len(lines) == 1, lines
    return sent, raised, re.sub(r" [0-9.]+ms ", " ", lines[0])


async def _answers(handler: Any) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def _not_found(request: Request) -> Any:
    raise errors.NotFoundError("no such file")


async def _http_error(request: Request) -> Any:
    raise HTTPException(405)


async def _bug(request: Request) -> Any:
    raise ZeroDivisionError("a bug")


async def _rate_limited(request: Request) -> Any:
    request.scope[EXTRA_HEADERS] = [(b"ratelimit-remaining", b"7")]
    raise errors.RateLimitedError("slow down", retry_after=3)


async def _reads_body(request: Request) -> Any:
    return PlainTextResponse(b"got " + await request.body())


class _FailsMidway:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"half", "more_body": True})
        raise self.exc


async def _handled_after_start(request: Request) -> Any:
    return _FailsMidway(errors.IoError("disk gone"))


async def _bug_after_start(request: Request) -> Any:
    return _FailsMidway(ValueError("late bug"))


CASES: dict[str, tuple[Any, str, list[bytes] | None]] = {
    "answer": (_answers, "GET", None),
    "handled error": (_not_found, "GET", None),
    "HTTPException": (_http_error, "PUT", [b"x"]),
    "unhandled error": (_bug, "GET", None),
    "error with extra headers": (_rate_limited, "POST", [b"abc"]),
    "body": (_reads_body, "PUT", [b"payload"]),
    "stalled body": (_reads_body, "PUT", []),
    "handled error after start": (_handled_after_start, "GET", None),
    "unhandled error after start": (_bug_after_start, "GET", None),
}


@pytest.mark.parametrize("case", CASES)
async def test_the_hot_path_answers_as_the_stack_does(
    case: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deadline, "_DEFAULT_SECONDS", 0.05)
    handler, method, body = CASES[case]
    path = "/2.0/files/inbox/a b.txt"
    hot = await _drive(_hot_app(handler), method, path, body, caplog)
    routed = await _drive(_routed_app(handler), method, path, body, caplog)
    assert hot == routed
    sent, raised, line = hot
    # What each case is about, so that two equally wrong answers cannot pass.
    expected_status = {
        "answer": 200, "handled error": 404, "HTTPException": 405, "unhandled error": 500,
        "error with extra headers": 429, "body": 200, "stalled body": 408,
        "handled error after start": 200, "unhandled error after start": 200,
    }[case]  # fmt: skip
    assert sent[0]["status"] == expected_status
    assert (b"x-request-id", b"fixed-id") in sent[0]["headers"] or case == "unhandled error"
    assert bool(raised) == (case in ("unhandled error", "handled error after start", "unhandled error after start"))
    logged_status = "-" if case == "unhandled error" else str(expected_status)
    assert line.startswith(f'127.0.0.1 "{method} {path}" {logged_status} ') and line.endswith(" id=fixed-id")


async def test_other_paths_and_methods_take_the_router(caplog: pytest.LogCaptureFixture) -> None:
    app = _hot_app(_answers)
    for method, path in (("GET", "/2.0/filesx/a"), ("DELETE", "/2.0/files/a"), ("GET", "/2.0/other")):
        sent, raised, _ = await _drive(app, method, path, None, caplog)
        assert sent[0]["status"] == 404 and not raised  # no route here: the router's answer


def test_the_hot_path_stands_only_for_the_stack_it_replaces() -> None:
    assert isinstance(_hot_app(_answers).build_middleware_stack(), HotPath)
    more = [*MIDDLEWARE, Middleware(AccessLogMiddleware)]
    assert not isinstance(GatewayApp(routes=[], middleware=more).build_middleware_stack(), HotPath)
    assert not isinstance(GatewayApp(routes=[], middleware=MIDDLEWARE, debug=True).build_middleware_stack(), HotPath)
