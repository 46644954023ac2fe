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
from typing import Any

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


class _Clock:
    """One request's deadline: a single timer for the whole body, not one per ``receive``.

    Arming a timer costs a heap push and cancelling it leaves an entry behind, and a body is
    waited for several times (a small upload two or three, a large one thousands). So the timer
    is set at the first wait, for that wait's deadline, and when it fires it looks at the wait in
    progress: one that has lasted the whole limit ends the request (the waiting task is cancelled
    and the wait raises ``RequestTimeoutError``), a later one has the timer set again for its own
    deadline, and with none in progress the next wait sets it. ``stop()`` ends the clock once the
    body is in: a disconnect is then waited for, however long.
    """

    __slots__ = ("seconds", "upstream", "loop", "handle", "since", "waiter", "cancelling", "expired", "done")

    def __init__(self, seconds: float, receive: Receive) -> None:
        self.seconds = seconds
        self.upstream = receive
        self.loop = asyncio.get_running_loop()
        self.handle: asyncio.TimerHandle | None = None
        self.since = 0.0  # when the wait in progress began
        self.waiter: asyncio.Task[Any] | None = None  # the task waiting now, if any
        self.cancelling = 0
        self.expired = False
        self.done = False

    async def receive(self) -> Message:
        """The app's ``receive``, in time (one coroutine per piece of the body: it runs per chunk)."""
        if self.done:
            return await self.upstream()
        task = asyncio.current_task()
        assert task is not None
        self.since = self.loop.time()
        self.waiter, self.cancelling = task, task.cancelling()
        if self.handle is None:
            self.handle = self.loop.call_at(self.since + self.seconds, self._fire)
        try:
            message = await self.upstream()
        except asyncio.CancelledError:
            expired, self.expired = self.expired, False
            # Ours only if no one else cancelled the task as well (asyncio.timeout's rule).
            if expired and task.uncancel() <= self.cancelling:
                raise RequestTimeoutError() from None
            raise
        finally:
            self.waiter = None
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.stop()
        return message

    def _fire(self) -> None:
        self.handle = None
        if self.waiter is None:
            return
        due = self.since + self.seconds
        if self.loop.time() < due:
            self.handle = self.loop.call_at(due, self._fire)
            return
        self.expired = True
        self.waiter.cancel()

    def stop(self) -> None:
        self.done = True
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


def clock_for(scope: Scope, receive: Receive) -> _Clock | None:
    """The deadline of a request that has a body (its ``receive`` is the clock's), else None."""
    return _Clock(_seconds(scope), receive) if _has_body(scope) else None


class BodyDeadlineMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        clock = clock_for(scope, receive) if scope["type"] == "http" else None
        if clock is None:
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, clock.receive, send)
        finally:
            clock.stop()
