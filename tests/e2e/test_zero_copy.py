"""Large downloads under uvicorn go out by ``sendfile`` (gateway/zerocopy.py), byte-exact, and a
client that stalls or leaves costs nothing: other partners are served meanwhile, the
connection's descriptors are all released, and nothing is logged as a server error.

What shows that the zero-copy path runs, from outside: while a body waits for its reader, the
server holds that client's socket twice (uvicorn's descriptor and the sender's duplicate).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Curl, Gateway, password, running, tls_files

pytestmark = pytest.mark.e2e
BIG = 5 * 1024 * 1024 + 12345  # several socket buffers, not a multiple of any chunk


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = Gateway(root=tmp_path_factory.mktemp("zerocopy"), http_server="uvicorn").start()
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def big(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    data = os.urandom(BIG)
    src = tmp_path_factory.mktemp("src") / "big.bin"
    src.write_bytes(data)
    with closing(gateway.client("alice")) as client:
        with src.open("rb") as f:
            r = client.put("/2.0/files/outbox/big.bin", files={"file": ("big.bin", f)})
        assert r.status_code == 201, r.text
    return data


def _sockets_held_twice(gw: Gateway) -> int:
    assert gw.process is not None
    fds = Path(f"/proc/{gw.process.pid}/fd")
    targets = []
    for fd in fds.iterdir():
        try:
            targets.append(os.readlink(fd))
        except FileNotFoundError:
            continue
    sockets = [t for t in targets if t.startswith("socket:")]
    return len(sockets) - len(set(sockets))


def _fds(gw: Gateway) -> int:
    assert gw.process is not None
    return len(os.listdir(f"/proc/{gw.process.pid}/fd"))


def test_curl_downloads_a_large_file_byte_exact_by_sendfile(gateway: Gateway, big: bytes, tmp_path: Path) -> None:
    curl = Curl(gateway, tmp_path / "jar")
    assert curl.login("alice").status == 200
    r = curl(path="/2.0/files/outbox/big.bin")
    assert r.status == 200 and r.returncode == 0
    assert r.headers["content-length"] == str(BIG)
    assert hashlib.sha256(r.body).hexdigest() == hashlib.sha256(big).hexdigest()


def test_one_connection_serves_several_large_bodies_in_turn(gateway: Gateway, big: bytes) -> None:
    with closing(gateway.client("alice")) as client:
        for _ in range(3):  # kept alive: each body must end exactly where its length says
            r = client.get("/2.0/files/outbox/big.bin")
            assert r.status_code == 200 and r.content == big
        head = client.head("/2.0/files/outbox/big.bin")
        assert head.status_code == 200 and head.headers["content-length"] == str(BIG) and head.content == b""
        part = client.get("/2.0/files/outbox/big.bin", headers={"Range": "bytes=1000-2999999"})
        assert part.status_code == 206 and part.content == big[1000:3000000]


def _request(gw: Gateway, cookies: httpx.Cookies) -> bytes:
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return (f"GET /2.0/files/outbox/big.bin HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\nCookie: {cookie}\r\n\r\n").encode()


def test_a_stalled_reader_holds_up_no_one_and_its_leaving_releases_everything(gateway: Gateway, big: bytes) -> None:
    with closing(gateway.client("alice")) as client:
        client.get("/2.0/files/outbox/big.bin")  # warm: the sender thread and the page cache
        baseline = _fds(gateway)
        stalled = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(_request(gateway, client.cookies))
        head = stalled.recv(4096)
        assert head.startswith(b"HTTP/1.1 200"), head[:100]
        time.sleep(0.5)  # the socket buffers are full now: the body waits for this reader
        assert _sockets_held_twice(gateway) == 1  # uvicorn's descriptor and the sender's

        started = time.monotonic()
        for _ in range(3):  # others are served meanwhile, large bodies included
            assert client.get("/2.0/files/outbox/big.bin").content == big
        assert time.monotonic() - started < 30

        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        stalled.close()  # a reset: the sender gets ECONNRESET/EPIPE mid-body
        deadline = time.monotonic() + 10
        while _fds(gateway) > baseline and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _fds(gateway) <= baseline and _sockets_held_twice(gateway) == 0
        assert client.get("/2.0/files/outbox/big.bin").content == big
    assert "Traceback" not in gateway.log() and "ASGI callable" not in gateway.log()


def test_a_slow_reader_gets_every_byte(gateway: Gateway, big: bytes) -> None:
    with closing(gateway.client("alice")) as client:
        sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.sendall(_request(gateway, client.cookies))
    got = bytearray()
    result: dict[str, bytes] = {}

    def read() -> None:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got.extend(chunk)
            head, sep, body = bytes(got).partition(b"\r\n\r\n")
            if sep and len(body) >= BIG:
                result["head"], result["body"] = head, body
                break
            time.sleep(0.001)

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(120)
    sock.close()
    assert result["head"].startswith(b"HTTP/1.1 200")
    assert result["body"] == big


def test_over_tls_a_large_body_is_streamed_through_the_tls_layer(tmp_path: Path) -> None:
    """sendfile would put plaintext on a TLS connection: there the extension is not offered."""
    cert, key, context = tls_files(tmp_path)
    data = os.urandom(BIG)
    with running(Gateway(root=tmp_path / "gw", tls=(cert, key), http_server="uvicorn")) as gw:
        with httpx.Client(base_url=gw.url, verify=context, timeout=60) as client:
            login = client.post("/2.0/login/basic", data={"username": "sam", "password": password("sam")})
            assert login.status_code == 200, login.text
            assert client.put("/2.0/files/in/big.bin", files={"file": ("big.bin", data)}).status_code == 201
            for _ in range(2):
                r = client.get("/2.0/files/in/big.bin")
                assert r.status_code == 200 and r.content == data
