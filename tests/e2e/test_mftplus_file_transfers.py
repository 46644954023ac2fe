"""Every /2.0 upload and download is a transfer row of /api (seed 001): completed with progress
100 and the file's SHA-256, live bytes while in flight, failed when refused mid-body, and only
the partner's own. Real server, SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Gateway, running
from tests.e2e.mftplus_world import bearer_of, mftplus_config, register

pytestmark = pytest.mark.e2e
FLUSHED = 0.8  # rows are written in batches every 0.25 s


@pytest.fixture(scope="module")
def gateway(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = Gateway(root=tmp_path_factory.mktemp("gw"), database_url=catalog_url, config=mftplus_config())
    with running(gw):
        yield gw


@pytest.fixture(scope="module")
def admin(gateway: Gateway) -> Iterator[httpx.Client]:
    with contextlib.closing(gateway.client("root")) as client:
        yield client


def transfers(gateway: Gateway, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = httpx.get(f"{gateway.url}/api/transfers", headers=headers, params={"limit": 100, **params})
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["data"]
    return found


def only(
    rows: list[dict[str, Any]], direction: str, destination: str | None = None, source: str | None = None
) -> dict[str, Any]:
    hits = [t for t in rows if t["direction"] == direction and destination in (None, t["destinationPath"])
            and source in (None, t["sourceUrl"])]  # fmt: skip
    assert len(hits) == 1, rows
    return hits[0]


def test_upload_and_download_are_transfers_with_progress_100_and_sha256(gateway: Gateway, admin: httpx.Client) -> None:
    body = os.urandom(3 * 1024 * 1024 + 17)
    digest = hashlib.sha256(body).hexdigest()
    with contextlib.closing(gateway.client("alice")) as alice:
        assert alice.put("/2.0/files/inbox/t1.bin", files={"file": ("t1.bin", body)}).status_code == 201
        got = alice.get("/2.0/files/inbox/t1.bin")
        assert got.status_code == 200 and got.content == body
    time.sleep(FLUSHED)
    headers = bearer_of(gateway, admin, "alice")
    rows = transfers(gateway, headers)
    up = only(rows, "upload", destination="pa:/inbox/t1.bin")
    down = only(rows, "download", source="pa:/inbox/t1.bin")
    for t in (up, down):
        assert t["status"] == "completed" and t["progress"] == 100, t
        assert t["size"] == len(body) and t["bytesTransferred"] == len(body) and t["sha256"] == digest
        assert t["partner"] == "PartnerA" and t["customer"] == "alice" and t["protocol"] == "http"
        assert t["startedAt"] and t["endedAt"] and t["agentId"] is None
    assert up["sourceUrl"] == "http://127.0.0.1" and down["destinationPath"] == "http://127.0.0.1"
    assert len(transfers(gateway, headers, status="completed")) >= 2
    # Another partner sees none of it, not even by id.
    sam = bearer_of(gateway, admin, "sam")
    assert up["id"] not in {t["id"] for t in transfers(gateway, sam)}
    assert httpx.get(f"{gateway.url}/api/transfers/{up['id']}", headers=sam).status_code == 404
    assert admin.get(f"/api/transfers/{up['id']}").json()["data"]["id"] == up["id"]
    assert transfers(gateway, headers, partner="PartnerS") == []  # a foreign partner filter matches nothing


def test_an_upload_in_flight_shows_live_bytes(gateway: Gateway, admin: httpx.Client) -> None:
    chunk, chunks = b"x" * 65536, 40
    boundary = "liveboundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="live.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()  # fmt: skip
    tail = f"\r\n--{boundary}--\r\n".encode()

    def slow_body() -> Iterator[bytes]:
        yield head
        for _ in range(chunks):
            time.sleep(0.08)
            yield chunk
        yield tail

    result: dict[str, int] = {}

    def upload() -> None:
        with contextlib.closing(gateway.client("alice")) as alice:
            headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
            result["status"] = alice.put("/2.0/files/inbox/live.bin", content=slow_body(), headers=headers).status_code

    worker = threading.Thread(target=upload)
    worker.start()
    seen: list[int] = []
    try:
        deadline = time.monotonic() + 10
        while worker.is_alive() and time.monotonic() < deadline:
            running_now = admin.get("/api/transfers", params={"status": "running", "limit": 100}).json()["data"]
            seen += [t["bytesTransferred"] for t in running_now if t["destinationPath"] == "pa:/inbox/live.bin"]
            time.sleep(0.2)
    finally:
        worker.join(30)
    assert result["status"] == 201
    assert any(0 < n < chunks * len(chunk) for n in seen), seen  # live, partial progress was visible
    time.sleep(FLUSHED)
    final = only(admin.get("/api/transfers", params={"limit": 100}).json()["data"], "upload", "pa:/inbox/live.bin")
    assert final["status"] == "completed" and final["bytesTransferred"] == chunks * len(chunk)


def test_an_upload_refused_mid_body_is_a_failed_transfer(gateway: Gateway, admin: httpx.Client) -> None:
    with contextlib.closing(gateway.client("appuser")) as app:  # VFS "app" allows at most 1 MiB per file
        r = app.put("/2.0/files/in/too-big.bin", files={"file": ("too-big.bin", os.urandom(2 * 1024 * 1024))})
        assert r.status_code == 413
    time.sleep(FLUSHED)
    rows = admin.get("/api/transfers", params={"limit": 100, "partner": "AppB"}).json()["data"]
    failed = only(rows, "upload", "app:/in/too-big.bin")
    assert failed["status"] == "failed" and failed["error"] and failed["endedAt"] and failed["progress"] < 100


def test_an_agent_s_2_0_transfers_are_linked_to_it(gateway: Gateway, admin: httpx.Client) -> None:
    """The agent program moves files on /2.0 with a token from its key: those rows name it."""
    alice = bearer_of(gateway, admin, "alice")
    agent = register(gateway, alice, "linked")
    r = httpx.post(f"{gateway.url}/token", data={"grant_type": "apikey", "key": agent["apiKey"]})
    token = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = httpx.put(f"{gateway.url}/2.0/files/inbox/by-agent.bin", files={"file": ("by-agent.bin", b"agent bytes")},
                  headers=token)  # fmt: skip
    assert r.status_code == 201, r.text
    time.sleep(FLUSHED)
    aid = agent["agent"]["id"]
    rows = httpx.get(f"{gateway.url}/api/agents/{aid}/transfers", headers=alice).json()["data"]
    up = only(rows, "upload", "pa:/inbox/by-agent.bin")
    assert up["agentId"] == aid and up["status"] == "completed" and up["customer"] == "alice"
    assert only(transfers(gateway, {"X-API-Key": agent["apiKey"]}), "upload")["id"] == up["id"]  # the agent sees it


def test_a_large_download_abandoned_mid_body_is_a_cancelled_transfer(gateway: Gateway, admin: httpx.Client) -> None:
    """Such a body leaves by sendfile under uvicorn (gateway/zerocopy.py), never read by the app:
    the server's own word that it did not go out whole is what marks the transfer."""
    body = os.urandom(6 * 1024 * 1024)
    with contextlib.closing(gateway.client("alice")) as alice:
        assert alice.put("/2.0/files/inbox/left.bin", files={"file": ("left.bin", body)}).status_code == 201
        cookie = "; ".join(f"{k}={v}" for k, v in alice.cookies.items())
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(f"GET /2.0/files/inbox/left.bin HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n".encode())
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    time.sleep(0.5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset, mid-body
    headers = bearer_of(gateway, admin, "alice")

    def settled() -> dict[str, Any] | None:
        rows = [t for t in transfers(gateway, headers) if t["direction"] == "download"
                and t["sourceUrl"] == "pa:/inbox/left.bin"]  # fmt: skip
        return rows[0] if rows and rows[0]["status"] != "running" else None

    deadline = time.monotonic() + 10
    while (row := settled()) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert row is not None and row["status"] == "cancelled", row
