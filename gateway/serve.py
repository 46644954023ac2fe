"""Run the app in an ASGI server on a socket ``mft-gateway serve`` has already bound.

One function per server (``server.http_server`` in gateway.yaml, ``--http-server``). Both keep
the same outside behaviour: one process (the SQLite group-commit funnel and the dispatcher live
in it), uvloop, the ASGI lifespan run, no access log or proxy-header handling of their own (the
app does both), and SIGTERM/SIGINT finish the requests in flight, run the lifespan shutdown and
return normally, so that the process exits 0.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
from collections.abc import Callable
from types import FrameType
from typing import Any, cast

from starlette.types import ASGIApp

from gateway.config.schema import ServerConfig
from gateway.settings import Settings

log = logging.getLogger("gateway")
_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_DROP_AFTER_CANCEL_SECONDS = 5
BACKLOG = 2048  # the listen() queue; also granian's cap on connections served at once
# Objects the collector may let accumulate before a young-generation pass (CPython: 700).
GC_YOUNG_THRESHOLD = 10_000


def bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to host:port (port 0: any free one), not yet listening.

    ``reuse_port`` lets several processes' sockets share the port (Linux ``SO_REUSEPORT``: the
    kernel spreads new connections over the listening ones); every socket of the group must set it.
    Raises OSError (address in use, not available, no permission).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def settle_heap() -> None:
    """Tune the cyclic garbage collector for serving; once per server process, before it serves.

    Under load the objects of the requests in flight (16 connections: 1,000-2,000 of them) stay
    above CPython's young-generation threshold of 700, so the collector ran every ~27 small
    uploads to find almost nothing, promoting the survivors to be scanned again, and every few
    thousand requests a full pass walked the ~77,000 objects of the imported modules, the
    configuration and the app (25 ms each): together ~3 % of an upload's CPU. With the
    threshold at GC_YOUNG_THRESHOLD a steady load triggers no pass (garbage that does pile up,
    a leak of cycles, still triggers one), and ``gc.freeze()`` takes what exists now out of
    every later pass. What is frozen is never collected even if it later becomes cyclic garbage:
    only objects made before serving, which live as long as the process anyway.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def run_uvicorn(app: ASGIApp, sock: socket.socket, settings: Settings, server: ServerConfig | None = None) -> None:
    import uvicorn

    from gateway.connguard import uvicorn_protocol

    limits = server or ServerConfig()
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http=uvicorn_protocol(limits),  # httptools, with the connection limits (gateway.connguard)
        timeout_keep_alive=cast(int, limits.keep_alive_seconds),  # used as a float (call_later)
        lifespan="on",
        proxy_headers=False,  # the app itself decides which proxies to believe
        server_header=False,
        access_log=False,
        log_config=None,  # uvicorn's records go to the root logger: our one-line format
        log_level=settings.log_level,
        ssl_certfile=str(settings.tls_certfile) if settings.tls_certfile else None,
        ssl_keyfile=str(settings.tls_keyfile) if settings.tls_keyfile else None,
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
        h11_max_incomplete_event_size=limits.max_header_bytes,
    )
    stopped_on: set[int] = set()

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            stopped_on.add(sig)
            super().handle_exit(sig, frame)

    settle_heap()
    for sig in _SIGNALS:
        signal.signal(sig, _stop_unless(stopped_on))
    Server(config).run(sockets=[sock])


def _stop_unless(stopped_on: set[int]) -> Callable[[int, FrameType | None], None]:
    """The SIGTERM/SIGINT handler around uvicorn's own.

    uvicorn takes the two signals while it serves, shuts down gracefully on one, and then raises
    it again to the handler it found: with the default one, the process would die by the signal
    (exit 143 in a container) after a clean shutdown. So a signal uvicorn stopped on
    (``stopped_on``) is ignored here, and the graceful stop exits 0. A signal that comes before
    uvicorn has taken them (to a worker whose supervisor died while it was starting:
    ``PR_SET_PDEATHSIG``) does what it would have done without this handler: it stops the process.
    """
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in _SIGNALS}

    def handler(signum: int, frame: FrameType | None) -> None:
        if signum in stopped_on:
            return
        before = previous[signum]
        if callable(before):
            before(signum, frame)  # Python's SIGINT handler: KeyboardInterrupt
            return
        signal.signal(signum, before if before is not None else signal.SIG_DFL)
        signal.raise_signal(signum)

    return handler


def run_granian(app: ASGIApp, sock: socket.socket, settings: Settings, server: ServerConfig | None = None) -> None:
    """granian's embedded server: its Rust HTTP stack in this process, on this event loop.

    The embedded flavour, not ``granian.Granian``: that one forks worker processes and binds
    its own socket in each (so ``--port 0`` could not be reported), while this one serves in
    the calling process and, through the one hook below, takes our bound socket's descriptor.
    Its "experimental" label is granian's; the e2e tests (tests/e2e/test_granian.py) cover what
    the gateway relies on: lifespan, TLS, pathsend, and a SIGTERM that drains requests in flight.
    """
    import uvloop

    settle_heap()
    uvloop.run(_serve_granian(app, sock, settings, server or ServerConfig()))


async def _serve_granian(app: ASGIApp, sock: socket.socket, settings: Settings, limits: ServerConfig) -> None:
    from granian._granian import SocketHolder
    from granian.constants import HTTPModes, Interfaces, SSLProtocols
    from granian.errors import FatalError
    from granian.log import LogLevels
    from granian.server.embed import Server

    from gateway.connguard import HeadLimit, granian_http1

    backlog = BACKLOG

    class _BoundServer(Server):
        def _init_shared_socket(self) -> None:
            # granian binds address:port itself unless it is handed a listener. The holder takes
            # the descriptor over and closes it when granian stops accepting, as uvicorn does.
            holder: Any = SocketHolder  # (fd, is_uds, backlog); granian's stub omits the constructor
            self._ssp = None
            self._shd = holder(sock.detach(), False, backlog)

    server: Any = _BoundServer(
        HeadLimit(app, limits.max_header_bytes),
        address=settings.host,
        port=sock.getsockname()[1],
        interface=Interfaces.ASGI,  # with lifespan: the dispatcher and background tasks start there
        http=HTTPModes.http1,  # as uvicorn: HTTP/1.1 only
        http1_settings=granian_http1(limits),  # the connection limits (gateway.connguard)
        websockets=False,
        backlog=backlog,
        backpressure=backlog,
        log_level=LogLevels(settings.log_level),
        # granian's own records go to the root logger (stderr, our format) instead of stdout.
        log_dictconfig={"loggers": {"_granian": {"handlers": [], "propagate": True}}},
        log_access=False,
        ssl_cert=settings.tls_certfile,
        ssl_key=settings.tls_keyfile,
        ssl_protocol_min=SSLProtocols.tls12,  # granian defaults to 1.3 only; uvicorn accepts 1.2
    )
    # A stop signal makes granian stop accepting, let the requests in flight finish, close idle
    # keep-alive connections and run the lifespan shutdown. As uvicorn's timeout_graceful_shutdown,
    # requests still running after the grace period are cancelled (which lets the lifespan
    # shutdown run); a transfer granian itself sends (pathsend) is dropped a little later.
    grace = settings.graceful_shutdown_seconds
    server.workers_kill_timeout = grace + _DROP_AFTER_CANCEL_SECONDS
    loop = asyncio.get_running_loop()
    stopping = False

    def stop() -> None:
        nonlocal stopping
        if stopping:  # a second signal: do not wait any longer
            _cancel_requests(0)
            return
        stopping = True
        server.stop()
        loop.call_later(grace, _cancel_requests, grace)

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, stop)
    try:
        await server.serve()
    except FatalError:  # granian has logged why (the lifespan startup failed: catalog, storage...)
        raise SystemExit(3) from None  # as uvicorn exits when the application startup fails
    except TimeoutError:
        log.warning("connections still open %ss after the stop signal were dropped", server.workers_kill_timeout)


def _cancel_requests(after: float) -> None:
    """Cancel the app's request tasks (granian runs each in a task of its ``future_watcher``)."""
    requests = [t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__name__", "") == "future_watcher"]
    if requests:
        log.warning("cancelling %d request(s) still running %ss after the stop signal", len(requests), after)
    for task in requests:
        task.cancel()
