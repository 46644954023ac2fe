"""The hot ``/2.0/files/<path>`` transfers dispatched straight to their handlers.

Uploads (``PUT``, ``POST``) and downloads (``GET``, ``HEAD``) are most of the gateway's
requests. Starlette's router would try every route before them in turn (a regex match each),
then wrap the endpoint in a second request object and a second exception wrapper; for a 4 KiB
transfer that is a measurable share of the whole request (bench/stages.py, bench/ab.py figures
in docs/small-file-path.md). :class:`HotPath` sits as the innermost middleware, after the access
log and the body deadline, so those run unchanged for every request; for a hot method on a
``/2.0/files/`` path it calls the same handler (gateway.http.files) under Starlette's own
:class:`~starlette.middleware.exceptions.ExceptionMiddleware`, built with the same handlers, so
an error gets the same answer. Every other request goes on to Starlette's router.

The match is the one the route table makes: the path below the mount point starts with
``/2.0/files/`` (the ``anypath`` convertor takes any rest, line breaks included), and no route
listed before those in gateway.http.routes can match such a path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette._utils import get_route_path
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.http import files

PREFIX = "/2.0/files/"
Handler = Callable[[Request], Awaitable[ASGIApp]]
# Starlette serves HEAD with the GET route, as the route table declares GET only.
HOT: dict[str, Handler] = {"PUT": files.put, "POST": files.post, "GET": files.get, "HEAD": files.get}


def _endpoint(handler: Handler) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await handler(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


class HotPath:
    """ASGI middleware: hot transfers to their handler, the rest to ``app`` (Starlette's router)."""

    def __init__(self, app: ASGIApp, handlers: Mapping[Any, Any]) -> None:
        self.app = app
        # As Starlette's application builds it: 500 and Exception belong to ServerErrorMiddleware.
        routed = {k: v for k, v in handlers.items() if k not in (500, Exception)}
        self.hot = {method: ExceptionMiddleware(_endpoint(h), handlers=routed) for method, h in HOT.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            hot = self.hot.get(scope["method"])
            if hot is not None:
                path = get_route_path(scope)
                if path.startswith(PREFIX):
                    scope["endpoint"] = HOT[scope["method"]]
                    scope["path_params"] = {**scope.get("path_params", {}), "path": path[len(PREFIX) :]}
                    await hot(scope, receive, send)
                    return
        await self.app(scope, receive, send)
