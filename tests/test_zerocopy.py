"""The sendfile thread of gateway/zerocopy.py, on a socket pair: a body goes out whole and
byte-exact however slowly it is read, a reader that leaves fails the body with OSError, and a
cancelled body returns only once the thread has let go of its descriptors."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import zerocopy

pytestmark = pytest.mark.anyio
SIZE = 3 * 1024 * 1024 + 7


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def source(tmp_path: Path) -> Iterator[tuple[int, bytes]]:
    data = os.urandom(SIZE)
    path = tmp_path / "body.bin"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    yield fd, data
    os.close(fd)


def _pair() -> tuple[socket.socket, socket.socket]:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    return ours, theirs


def _registered(sock: socket.socket) -> bool:
    sender = zerocopy.sender()
    return sock.fileno() in sender._selector.get_map()


async def test_a_slowly_read_body_arrives_whole(source: tuple[int, bytes]) -> None:
    fd, data = source
    ours, theirs = _pair()
    got = bytearray()

    def read() -> None:
        while len(got) < SIZE:
            got.extend(theirs.recv(65536))

    reader = asyncio.get_running_loop().run_in_executor(None, read)
    await zerocopy.sender().send(ours.fileno(), fd, 0, SIZE)
    await reader
    assert bytes(got) == data and not _registered(ours)
    ours.close()
    theirs.close()


async def test_a_reader_that_leaves_fails_the_body(source: tuple[int, bytes]) -> None:
    fd, _ = source
    ours, theirs = _pair()
    body = asyncio.ensure_future(zerocopy.sender().send(ours.fileno(), fd, 0, SIZE))
    await asyncio.sleep(0.2)  # the buffers are full: the body waits for the reader
    assert not body.done() and _registered(ours)
    theirs.close()
    with pytest.raises(OSError):
        await asyncio.wait_for(body, 10)
    assert not _registered(ours)
    ours.close()


async def test_a_cancelled_body_lets_go_of_its_descriptors_first(source: tuple[int, bytes]) -> None:
    fd, _ = source
    ours, theirs = _pair()
    body = asyncio.ensure_future(zerocopy.sender().send(ours.fileno(), fd, 0, SIZE))
    await asyncio.sleep(0.2)
    assert _registered(ours)
    body.cancel()
    with pytest.raises(asyncio.CancelledError):
        await body
    assert not _registered(ours)  # so closing them now cannot hand a number to a stranger
    ours.close()
    theirs.close()
