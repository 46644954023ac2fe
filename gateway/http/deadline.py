"""The body-progress deadline: an upload may be slow, but it must keep moving.

Pure ASGI middleware, so it is the same under every server. For a request that has a body
(``Content-Length`` above 0, or chunked), each wait for the next piece of it may last at most
``server.body_idle_seconds``; past that the request fails with ``408 timeout`` and the
connection is closed. A partner sending 64 KiB/s, or one byte a second, is never cut off: the
clock restarts with every piece received. Time the app itself spends (writing to disk, say) is
not counted, since the clock runs only while the app waits for the client. Requests without a
body are passed through untouched (no cost on downloads).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.config.schema import ServerConfig
from gateway.http.exception_handlers import RequestTimeoutError

_DEFAULT_SECONDS = ServerConfig().body_idle_seconds


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False


def _seconds(scope: Scope) -> float:
    app = scope.get("app")
    holder = getattr(getattr(app, "state", None), "holder", None)
    runtime = getattr(holder, "runtime", None)
    return runtime.config.server.body_idle_seconds if runtime is not None else _DEFAULT_SECONDS


class BodyDeadlineMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        seconds = _seconds(scope)
        done = False

        async def receive_in_time() -> Message:
            nonlocal done
            if done:
                return await receive()  # after the body: a disconnect is waited for, however long
            try:
                async with asyncio.timeout(seconds):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeoutError() from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            return message

        await self.app(scope, receive_in_time, send)
