"""Connection limits enforced by the HTTP server, before a request reaches the app.

An anonymous client must not be able to hold the process's file descriptors with connections
that send half a request line and stop, nor make it buffer an endless request head. These
limits (gateway.yaml ``server``; docs/api.md "Limits") are applied the same under both servers:

- ``request_head_seconds``: the whole request head (request line and headers) must arrive
  within this time of the connection opening, or of the first byte of a later request on a
  kept-alive connection; else ``408`` (if anything was sent) and the connection is closed.
- ``keep_alive_seconds``: an idle kept-alive connection is closed after this long.
- ``max_header_bytes``: a request head larger than this is answered ``431`` and closed.
- ``max_connections_per_address``: connections from one client address beyond this count are
  answered ``503`` and closed at once (uvicorn; see below).

Under uvicorn they are a subclass of its httptools protocol (:func:`uvicorn_protocol`), which
also hands an upload's body on without uvicorn's two copies (``on_body``), and offers GETs on
plain TCP the ``http.response.pathsend`` extension, served by ``sendfile`` (gateway.zerocopy). Under
granian they map onto its HTTP/1 settings (:func:`granian_http1`): its header read timeout,
which also ends an idle kept-alive connection; the head size is checked when the request
reaches the app (:class:`HeadLimit`), granian's read buffer (about 400 KiB) bounding what it
holds before. granian accepts connections in Rust with no hook for counting them per address:
there ``max_connections_per_address`` is not enforced, and the head deadline is what bounds how
long a silent connection is held.

The body of an upload is watched in the app, identically for both servers
(gateway.http.deadline): ``body_idle_seconds`` without a byte ends it with ``408``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httptools
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn._types import ASGI3Application
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from gateway import zerocopy
from gateway.coalesce import CoalescingTransport
from gateway.config.schema import ServerConfig

log = logging.getLogger("gateway.connections")


def _response(status: bytes, message: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
        b"content-length: " + str(len(message)).encode("ascii") + b"\r\n\r\n" + message
    )


TOO_MANY = _response(b"503 Service Unavailable", b"Too many connections from this address")
HEAD_TIMEOUT = _response(b"408 Request Timeout", b"Request head not received in time")
HEAD_TOO_LARGE = _response(b"431 Request Header Fields Too Large", b"Request head too large")
INVALID = _response(b"400 Bad Request", b"Invalid HTTP request received.")


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing an oversized head."""


class _Throttled:
    """Warn at most once per ``every`` seconds (a flood of refusals must not flood the log)."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.last = -every
        self.suppressed = 0

    def warn(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            self.suppressed += 1
            return
        if self.suppressed:
            message += f" ({self.suppressed} similar since the last report)"
        self.last, self.suppressed = now, 0
        log.warning(message, *args)


class _PathsendCycle(RequestResponseCycle):
    """uvicorn's request cycle that also takes ``http.response.pathsend`` (gateway.zerocopy).

    A GET's cycle becomes one by a class change, not by a ``send`` closure stored on the cycle:
    such a closure refers to the cycle that refers to it, and every GET then left its cycle
    (scope, headers, event, buffers) for the cyclic garbage collector instead of freeing it when
    the request ended (about 15 objects a download; the collections cost ~3 % of the CPU).
    """

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.pathsend":
            await zerocopy.pathsend(self, super().send, message["path"])
        else:
            await super().send(message)


def uvicorn_protocol(server: ServerConfig) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with the limits above; one per server (its own counters)."""
    per_address: dict[str, int] = {}
    head_seconds = server.request_head_seconds
    max_head = server.max_header_bytes
    max_conns = server.max_connections_per_address
    refusals = _Throttled()

    class GuardedProtocol(HttpToolsProtocol):
        """uvicorn's protocol with the limits above.

        Its two deadlines, the head's and the idle kept-alive connection's, share one timer
        that is not re-armed per request: a request only notes when its head began and when its
        response ended (a clock read each), and the timer, when it fires, acts on a deadline
        that has passed or sleeps until the next one. uvicorn's own keep-alive timer, and the
        head timer this class had before, cost every request two ``call_later`` and two
        ``cancel`` (about 3.5 µs); now a connection arms about one timer per keep-alive period.
        """

        _address: str | None = None
        _head_since: float | None = None  # when the current head began (None: not in a head)
        _idle_since: float | None = None  # when the last response ended, none following yet
        _timer: asyncio.TimerHandle | None = None
        _timer_at = 0.0  # when _timer fires
        _in_head = True
        _head_size = 0  # request line and header bytes of the current head
        _head_raw = 0  # bytes received since the current head began
        _zero_copy = False  # a plain-TCP connection: file bodies may go out by sendfile

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
            if max_conns and per_address.get(address, 0) >= max_conns:
                self.transport = transport  # what connection_lost closes
                transport.write(TOO_MANY)
                transport.close()
                refusals.warn("refused a connection from %s: %d already open", address, max_conns)
                return
            per_address[address] = per_address.get(address, 0) + 1
            self._address = address
            super().connection_made(transport)
            self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]
            self._zero_copy = transport.get_extra_info("ssl_object") is None
            self._arm_head()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._address is not None:
                left = per_address.get(self._address, 1) - 1
                if left > 0:
                    per_address[self._address] = left
                else:
                    per_address.pop(self._address, None)
                self._address = None
            self._head_since = self._idle_since = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            super().connection_lost(exc)

        def _arm_head(self) -> None:
            self._head_since = now = self.loop.time()
            self._wake_by(now + head_seconds)

        def _wake_by(self, deadline: float) -> None:
            """Make sure the timer fires by ``deadline`` (it may fire earlier, for another)."""
            if self._timer is None or deadline < self._timer_at:
                if self._timer is not None:
                    self._timer.cancel()
                self._timer_at = deadline
                self._timer = self.loop.call_at(deadline, self._deadline)

        def _deadline(self) -> None:
            self._timer = None
            if self.transport.is_closing():
                return
            now = self.loop.time()
            if self._head_since is not None and self._in_head:
                if now >= self._head_since + head_seconds:
                    if self._head_raw:
                        self.transport.write(HEAD_TIMEOUT)
                    self.transport.close()
                    return
                self._wake_by(self._head_since + head_seconds)
            if self._idle_since is not None:
                if now >= self._idle_since + self.timeout_keep_alive:
                    self.transport.close()  # what uvicorn's keep-alive timeout does
                    return
                self._wake_by(self._idle_since + self.timeout_keep_alive)

        def _refuse(self, response: bytes) -> None:
            self._head_since = None
            self.transport.write(response)
            self.transport.close()

        def data_received(self, data: bytes) -> None:
            self._idle_since = None  # uvicorn's _unset_keepalive_if_required, by the clock
            if self._in_head:
                if self._head_since is None:  # the first byte of a later request on this connection
                    self._arm_head()
                self._head_raw += len(data)
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                self._refuse(INVALID)  # no upgrades (no WebSockets) are served
                return
            except httptools.HttpParserError as exc:
                if isinstance(exc.__context__, _HeadTooLarge):
                    self._refuse(HEAD_TOO_LARGE)
                else:
                    self.logger.warning("Invalid HTTP request received.")
                    self._refuse(INVALID)
                return
            if self._in_head and self._head_raw > max_head and not self.transport.is_closing():
                # Still no end of the head, and more than a head may hold: stop buffering it.
                self._refuse(HEAD_TOO_LARGE)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True
            self._head_size = 0

        def on_url(self, url: bytes) -> None:
            self._head_size += len(url)
            if self._head_size > max_head:
                raise _HeadTooLarge()
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_size += len(name) + len(value) + 4  # ": " and CRLF
            if self._head_size > max_head:
                raise _HeadTooLarge()
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_raw = 0
            self._head_since = None
            super().on_headers_complete()

        def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
            """Offer ``http.response.pathsend`` to a GET on a plain-TCP connection: the body is
            then sent by ``sendfile`` (gateway/zerocopy.py). Other requests are untouched."""
            if self._zero_copy and cycle.scope["method"] == "GET":
                cycle.scope.setdefault("extensions", {})["http.response.pathsend"] = {}
                cycle.__class__ = _PathsendCycle
            super()._start_asgi_task(cycle, app)

        def on_response_complete(self) -> None:
            """uvicorn's, with its keep-alive timer replaced by :meth:`_deadline`."""
            self._in_head = True  # the next bytes on this connection are a new head
            self.server_state.total_requests += 1
            if self.transport.is_closing():
                return
            self.flow.resume_reading()
            if self.pipeline:
                cycle, app = self.pipeline.pop()
                self._start_asgi_task(cycle, app)
            else:
                self._idle_since = now = self.loop.time()
                self._wake_by(now + self.timeout_keep_alive)

        def on_body(self, body: bytes) -> None:
            """Keep a piece of body that arrives while none is waiting as the parser's own
            ``bytes``, instead of copying it into uvicorn's ``bytearray`` (which ``receive()``
            then copies again with ``bytes()``, a no-op for ``bytes``).

            Those two copies land in fresh memory for every ~256 KiB read and cost more than the
            socket read itself: receiving a 1 GiB body measured 0.45 s of system time without
            them and 0.25 s with, 740 -> 990 MB/s (bare uvicorn app, same host). Anything else
            (a second piece before the app took the first, a finished response, an upgrade) is
            uvicorn's own code, unchanged.
            """
            cycle = self.cycle
            if cycle.body or cycle.response_complete or self.parser.should_upgrade():
                super().on_body(body)  # bytes + bytes also works: uvicorn's += then makes the copy
                return
            cycle.body = body  # type: ignore[assignment]  # read once by receive(), then reset
            if len(body) > HIGH_WATER_LIMIT:
                self.flow.pause_reading()
            cycle.message_event.set()

    return GuardedProtocol


def granian_http1(server: ServerConfig) -> Any:
    """granian's HTTP/1 settings for the same limits (see the module docstring).

    The read buffer stays at granian's default (about 400 KiB) unless the head limit is larger:
    it also sizes the pieces an upload's body is read in, and a 32 KiB buffer measured twice the
    CPU for a 300 MiB upload. The head limit itself is then checked by :class:`HeadLimit`.
    """
    from granian.http import HTTP1Settings

    return HTTP1Settings(
        header_read_timeout=int(server.request_head_seconds * 1000),
        keep_alive=True,
        max_buffer_size=max(HTTP1Settings.max_buffer_size, server.max_header_bytes),
    )


class HeadLimit:
    """ASGI wrapper refusing a request whose head exceeds ``max_bytes`` (431, connection closed).

    For granian, whose own bound is its read buffer: the head was read (at most that buffer),
    but the request goes no further. The size counted is the request target and each header as
    ``name: value`` with its line end, as under uvicorn.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
            for name, value in scope["headers"]:
                size += len(name) + len(value) + 4
            if size > self.max_bytes:
                headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
                await send({"type": "http.response.start", "status": 431, "headers": headers})
                await send({"type": "http.response.body", "body": b"Request head too large"})
                return
        await self.app(scope, receive, send)
