"""Access log as pure ASGI middleware: one line per request, with a request id.

Never logs bodies, cookies or query strings' secrets (the API puts none in query strings, but
the log keeps only the path). ``X-Request-Id`` is echoed (or minted) for correlation.

Line format: ``<client> "<METHOD> <path>" <status> <bytes> <ms>ms id=<request id>``, where the
client, method and path are escaped (gateway.logsafe.escape_quoted: ``"``, ``\\`` and every
non-printable character), so every request is exactly one line whatever its path.
"""

from __future__ import annotations

import logging
import random
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import logsetup
from gateway.logsafe import escape_quoted

log = logging.getLogger(logsetup.ACCESS_LOGGER)
_LINE = '%s "%s %s" %s %d %.1fms id=%s'
# Response headers decided before the handler's response exists (the rate limit's, by
# http/ratelimit.py): a list of (name, value) byte pairs in the scope, added to whatever answer
# the request gets, errors included.
EXTRA_HEADERS = "gateway.extra_headers"
# An echoed X-Request-Id goes into a response header and the log: anything else is replaced.
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,64}")


class Entry:
    """One request's access line in the making. :meth:`send` is the app's ``send``, wrapped: it
    adds the request id (and :data:`EXTRA_HEADERS`) to the response head and counts the bytes;
    :meth:`write` logs the line. Shared by the middleware and the hot path (http/hotpath.py)."""

    __slots__ = ("scope", "downstream", "started", "request_id", "status", "sent", "declared")

    def __init__(self, scope: Scope, send: Send) -> None:
        self.scope = scope
        self.downstream = send
        self.started = time.perf_counter()
        request_id = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id" and _REQUEST_ID.fullmatch(value):
                request_id = value.decode("ascii")
        # Correlation, not a secret: the process's PRNG (reseeded in forked children) saves a syscall.
        self.request_id = request_id or f"{random.getrandbits(128):032x}"
        self.status = 0  # the response's, once its head has gone to ``send``
        self.sent = 0
        self.declared = 0

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            message.setdefault("headers", [])
            message["headers"] = [*message["headers"], (b"x-request-id", self.request_id.encode("latin-1"))]
            extra = self.scope.get(EXTRA_HEADERS)
            if extra:
                message["headers"] += extra
            for name, value in message["headers"]:
                if name == b"content-length":
                    self.declared = int(value)
        elif kind == "http.response.body":
            self.sent += len(message.get("body", b""))
        elif kind == "http.response.pathsend":  # the server sends the whole file itself
            self.sent += self.declared
        await self.downstream(message)

    def write(self) -> None:
        scope = self.scope
        client = scope.get("client") or ("-", 0)
        fields = (
            escape_quoted(str(client[0])),
            escape_quoted(scope["method"]),
            escape_quoted(scope.get("path", "")),
            self.status or "-",
            self.sent,
            (time.perf_counter() - self.started) * 1000,
            self.request_id,
        )
        # The same line either way; logsetup's writer skips logging's per-record work when
        # nothing but its own handler would see the record.
        if not logsetup.access_line(_LINE % fields):
            log.info(_LINE, *fields)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        entry = Entry(scope, send)
        try:
            await self.app(scope, receive, entry.send)
        finally:
            entry.write()
