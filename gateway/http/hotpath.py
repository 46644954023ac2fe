"""The hot ``/2.0/files/<path>`` transfers, served by one function instead of seven layers.

Uploads (``PUT``, ``POST``) and downloads (``GET``, ``HEAD``) are most of the gateway's
requests. Through Starlette's stack a 4 KiB transfer passed seven ASGI layers, each a coroutine
frame and most a ``send`` wrapper of its own: the server-error middleware, the access log, the
body deadline, the exception middleware (which also built a request object), the router's regex
scan of every route before the file routes, the route's second exception wrapper and request
object, and the endpoint. Together they were a measurable share of a small request's CPU
(docs/small-file-path.md, bench/ab.py).

:class:`HotPath` is the outermost layer of the app's stack (:class:`GatewayApp` puts it there).
A hot request is served by :meth:`HotPath.serve`, which does what those layers did, in the same
order and with the same parts: the access line is :class:`gateway.http.accesslog.Entry`, the
deadline :func:`gateway.http.deadline.clock_for`, the error answers the app's own exception
handlers, looked up as Starlette looks them up. One ``send`` wrapper (the access log's) stands
for all of theirs. Every other request goes to Starlette's stack, unchanged.

The match is the one the route table makes: the path below the mount point starts with
``/2.0/files/`` (the ``anypath`` convertor takes any rest, line breaks included), and no route
listed before those in gateway.http.routes can match such a path. tests/http/test_hotpath.py
checks that both ways give the same messages and the same access line.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from starlette._exception_handler import _lookup_exception_handler
from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, ExceptionHandler, Receive, Scope, Send

from gateway.http import deadline, files
from gateway.http.accesslog import AccessLogMiddleware, Entry
from gateway.http.deadline import BodyDeadlineMiddleware

PREFIX = "/2.0/files/"
Handler = Callable[[Request], Awaitable[ASGIApp]]
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]
# Starlette serves HEAD with the GET route, as the route table declares GET only.
HOT: dict[str, Handler] = {"PUT": files.put, "POST": files.post, "GET": files.get, "HEAD": files.get}
# The user middleware whose work serve() does itself, in this order (outermost first).
MIDDLEWARE: tuple[object, ...] = (AccessLogMiddleware, BodyDeadlineMiddleware)


class HotPath:
    """ASGI app: hot transfers served here, the rest to ``app`` (Starlette's whole stack)."""

    def __init__(self, app: ASGIApp, handlers: Mapping[Any, ErrorHandler], hot: Mapping[str, Handler] = HOT) -> None:
        self.app = app
        self.hot = dict(hot)
        # Split as Starlette's application splits them: 500 and Exception are the server-error
        # middleware's, status codes answer an HTTPException first, classes by the MRO.
        self.server_error: ErrorHandler | None = None
        self.by_class: dict[Any, ExceptionHandler] = {}  # as Starlette keeps them
        self.by_status: dict[int, ErrorHandler] = {}
        for key, handler in handlers.items():
            if key in (500, Exception):
                self.server_error = handler
            elif isinstance(key, int):
                self.by_status[key] = handler
            else:
                self.by_class[key] = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = self.hot.get(scope["method"])
            if handler is not None:
                path = get_route_path(scope)
                if path.startswith(PREFIX):
                    scope["endpoint"] = handler
                    scope["path_params"] = {**scope.get("path_params", {}), "path": path[len(PREFIX) :]}
                    await self.serve(handler, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def serve(self, handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
        """The server-error middleware's part: an exception nothing answered gets the 500 answer
        (if no head went out yet) and goes on to the server, which logs it."""
        entry = Entry(scope, send)
        try:
            try:
                clock = deadline.clock_for(scope, receive)
                try:
                    await self._answer(handler, scope, receive if clock is None else clock.receive, entry)
                finally:
                    if clock is not None:
                        clock.stop()
            finally:
                entry.write()
        except Exception as exc:
            request = Request(scope)
            if self.server_error is None:
                response: Response = PlainTextResponse("Internal Server Error", status_code=500)
            else:
                response = await self.server_error(request, exc)
            if not entry.status:
                await response(scope, receive, send)
            raise

    async def _answer(self, handler: Handler, scope: Scope, receive: Receive, entry: Entry) -> None:
        """The endpoint under the exception middleware's rules: a handled error is answered
        through the access log's ``send``, unless a head already went out."""
        send = entry.send
        request = Request(scope, receive, send)
        try:
            response = await handler(request)
            await response(scope, receive, send)
        except Exception as exc:
            on_error = self._handler_for(exc)
            if on_error is None:
                raise
            if entry.status:
                raise RuntimeError("Caught handled exception, but response already started.") from exc
            answer = await on_error(request, exc)
            await answer(scope, receive, send)
            exc.__traceback__ = None  # as Starlette: a reused exception must not pile up tracebacks

    def _handler_for(self, exc: Exception) -> ErrorHandler | None:
        if isinstance(exc, HTTPException):
            by_status = self.by_status.get(exc.status_code)
            if by_status is not None:
                return by_status
        return cast(ErrorHandler | None, _lookup_exception_handler(self.by_class, exc))  # Starlette's MRO rule


class GatewayApp(Starlette):
    """Starlette, with :class:`HotPath` outside its stack when the stack is the one HotPath
    stands for (not in debug mode, no body limit, the user middleware :data:`MIDDLEWARE`);
    otherwise (a host added middleware, say) every request takes the stack and the router."""

    hot: Mapping[str, Handler] = HOT

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        plain = not self.debug and getattr(self, "max_body_size", None) is None
        if plain and tuple(m.cls for m in self.user_middleware) == MIDDLEWARE:
            return HotPath(stack, self.exception_handlers, self.hot)
        return stack
