"""The uvicorn protocol's body hand-off (gateway.connguard ``on_body``), at the protocol itself.

The e2e tests upload through a real server, where the pieces arrive as the socket delivers
them; here the pieces are fed by hand so that both paths are taken for certain: a piece kept
as is (none waiting) and a piece arriving before the app took the previous one (uvicorn's own
concatenation).
"""

from __future__ import annotations

import asyncio
import gc
import os
import weakref
from typing import Any, cast

import pytest
from starlette.types import Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from gateway.config.schema import ServerConfig
from gateway.connguard import uvicorn_protocol

pytestmark = pytest.mark.anyio


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


async def test_body_pieces_reach_the_app_whole_in_order_without_a_copy() -> None:
    messages: list[Message] = []
    done = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            messages.append(message)
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        done.set()

    config = Config(app, lifespan="off", log_level="warning")
    guarded = cast(type[HttpToolsProtocol], uvicorn_protocol(ServerConfig()))  # typed as any asyncio protocol
    protocol = guarded(config=config, server_state=ServerState(), app_state={})
    transport = _Transport()
    protocol.connection_made(transport)
    body = os.urandom(300_000)
    protocol.data_received(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 300000\r\n\r\n")
    protocol.data_received(body[:100_000])  # kept as the parser's bytes
    protocol.data_received(body[100_000:150_000])  # before the app took the first: appended
    assert not transport.reading  # more than uvicorn's high-water mark waits: reading paused
    await asyncio.sleep(0.05)
    assert len(messages) == 1 and messages[0]["body"] == body[:150_000]
    assert transport.reading  # the app took it: reading resumed
    protocol.data_received(body[150_000:])  # the app waits: kept as is
    piece = protocol.cycle.body
    assert isinstance(piece, bytes)
    await asyncio.wait_for(done.wait(), 5)
    assert messages[1]["body"] is piece  # handed on without a copy
    assert b"".join(m["body"] for m in messages) == body
    assert [m["more_body"] for m in messages] == [True, False]
    assert transport.written.startswith(b"HTTP/1.1 204 ")


class _CountingLoop:
    """The running loop, noting the delay of every timer armed through it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, armed: list[float]) -> None:
        self._loop, self._armed = loop, armed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)

    def call_at(self, when: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
        self._armed.append(when - self._loop.time())
        return self._loop.call_at(when, callback, *args)

    def call_later(self, delay: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
        self._armed.append(delay)
        return self._loop.call_later(delay, callback, *args)


def _served(head_seconds: float, keep_alive: float) -> tuple[HttpToolsProtocol, _Transport, list[float]]:
    """A guarded protocol whose app answers 204 at once, and the delays of every timer it arms."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = Config(app, lifespan="off", log_level="warning", timeout_keep_alive=keep_alive)  # type: ignore[arg-type]
    guarded = cast(type[HttpToolsProtocol], uvicorn_protocol(ServerConfig(request_head_seconds=head_seconds)))
    protocol = guarded(config=config, server_state=ServerState(), app_state={})
    armed: list[float] = []
    protocol.loop = cast(Any, _CountingLoop(asyncio.get_running_loop(), armed))
    transport = _Transport()
    protocol.connection_made(transport)
    return protocol, transport, armed


async def _request(protocol: HttpToolsProtocol, transport: _Transport) -> None:
    before = len(transport.written)
    protocol.data_received(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
    for _ in range(100):
        if len(transport.written) > before:
            return
        await asyncio.sleep(0.001)
    raise AssertionError("no answer")


async def test_requests_on_a_kept_alive_connection_arm_no_timer_each() -> None:
    protocol, transport, armed = _served(head_seconds=30.0, keep_alive=20.0)
    for _ in range(50):
        await _request(protocol, transport)
    assert transport.written.count(b"HTTP/1.1 204 ") == 50
    assert len(armed) <= 2, armed  # the head deadline of the connection, then one keep-alive wake-up
    protocol.connection_lost(None)


async def test_an_idle_kept_alive_connection_is_closed_after_keep_alive_seconds() -> None:
    protocol, transport, _ = _served(head_seconds=30.0, keep_alive=0.3)
    await _request(protocol, transport)
    await asyncio.sleep(0.15)
    assert not transport.closed
    await _request(protocol, transport)  # the idle period starts again from this answer
    await asyncio.sleep(0.2)
    assert not transport.closed
    await asyncio.sleep(0.25)
    assert transport.closed and transport.written.count(b"HTTP/1.1 204 ") == 2


async def test_a_head_begun_on_a_kept_alive_connection_has_its_own_deadline() -> None:
    protocol, transport, _ = _served(head_seconds=0.4, keep_alive=0.2)
    await _request(protocol, transport)
    await asyncio.sleep(0.1)
    protocol.data_received(b"GET /slow HTTP/1.1\r\nHost:")  # a head begun before the idle deadline
    await asyncio.sleep(0.25)  # past the keep-alive deadline: a head in progress is not idle
    assert not transport.closed
    await asyncio.sleep(0.25)  # past the head's own deadline
    assert transport.closed
    assert transport.written.endswith(b"Request head not received in time")


async def test_a_get_is_freed_when_it_ends_not_left_to_the_garbage_collector() -> None:
    """A GET is offered pathsend without making its cycle part of a reference cycle: otherwise
    every download's scope, headers and buffers waited for the cyclic collector."""
    protocol, transport, _ = _served(head_seconds=30.0, keep_alive=20.0)
    gc.disable()
    try:
        await _request(protocol, transport)
        first = protocol.cycle
        assert "http.response.pathsend" in first.scope["extensions"]
        gone = weakref.ref(first)
        del first
        await _request(protocol, transport)  # the protocol now holds the next cycle
        await asyncio.sleep(0.01)  # the first request's task has ended
        assert gone() is None
    finally:
        gc.enable()
        protocol.connection_lost(None)
