"""gateway.coalesce: a small response leaves in one write; order and completeness are kept."""

from __future__ import annotations

import asyncio
import socket

import pytest

from gateway.coalesce import CoalescingTransport

pytestmark = pytest.mark.anyio


class Recorder:
    """The part of asyncio's transport interface the proxy uses, recording each write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False
        self.eof = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def write_eof(self) -> None:
        self.eof = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def _proxy() -> tuple[Recorder, CoalescingTransport]:
    raw = Recorder()
    return raw, CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]


async def test_head_and_body_of_one_turn_leave_in_one_write() -> None:
    raw, t = _proxy()
    t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n")
    t.write(memoryview(b"body"))
    assert raw.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody"]
    await asyncio.sleep(0)
    assert len(raw.writes) == 1


async def test_a_lone_head_leaves_at_the_end_of_the_turn() -> None:
    raw, t = _proxy()
    t.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert raw.writes == []
    await asyncio.sleep(0)
    assert raw.writes == [b"HTTP/1.1 204 No Content\r\n\r\n"]
    t.write(b"next")  # a later turn starts afresh
    await asyncio.sleep(0)
    assert raw.writes[-1] == b"next"


async def test_large_writes_pass_through_in_order() -> None:
    raw, t = _proxy()
    big = b"x" * (64 * 1024 + 1)
    t.write(b"head")
    t.write(big)  # flushes the head first, itself is not held nor joined
    t.write(big)
    assert raw.writes == [b"head", big, big]
    t.write(b"")
    await asyncio.sleep(0)
    assert raw.writes == [b"head", big, big]


async def test_three_small_writes_keep_their_order() -> None:
    raw, t = _proxy()
    t.writelines([b"a", b"b", b"c"])
    await asyncio.sleep(0)
    assert b"".join(raw.writes) == b"abc"
    assert raw.writes == [b"ab", b"c"]


async def test_close_and_eof_write_what_is_held_and_abort_drops_it() -> None:
    raw, t = _proxy()
    t.write(b"last words")
    t.close()
    assert raw.writes == [b"last words"] and raw.closed
    await asyncio.sleep(0)
    assert raw.writes == [b"last words"]  # the scheduled flush finds nothing more

    raw, t = _proxy()
    t.write(b"end")
    t.write_eof()
    assert raw.writes == [b"end"] and raw.eof

    raw, t = _proxy()
    t.write(b"dropped")
    t.abort()
    await asyncio.sleep(0)
    assert raw.writes == [] and raw.aborted


async def test_other_calls_reach_the_transport() -> None:
    raw, t = _proxy()
    assert t.get_extra_info("peername") == "info:peername"
    assert t.is_closing() is False


async def test_bytes_reach_a_real_socket_complete() -> None:
    """Through a real loopback connection: what is written, joined or not, is what arrives."""
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    b.setblocking(False)
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, a)
    t = CoalescingTransport(transport, loop)
    expected = b"".join([b"head\r\n", b"body", b"y" * 200_000, b"tail"])
    t.write(b"head\r\n")
    t.write(b"body")
    t.write(b"y" * 200_000)
    t.write(b"tail")
    t.close()
    received = b""
    while True:
        chunk = await loop.sock_recv(b, 65536)
        if not chunk:
            break
        received += chunk
    b.close()
    assert received == expected
