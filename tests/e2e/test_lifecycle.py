"""The gateway process over its life: shutdown, restart, sessions, start-up sweep, health, proxies, TLS.

Most tests start their own ``mft-gateway serve`` (a fresh root per instance) on the module's
catalog, so each runs once on SQLite and once on PostgreSQL. The PostgreSQL database is shared by
the whole module, hence every test uses file names of its own.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import (
    SERVE,
    Gateway,
    assert_envelope,
    default_config,
    merged,
    password,
    running,
    tls_files,
    write_config,
)

BOUNDARY = "e2e-lifecycle-b0uNdArY"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
CONTRACT_MISSING = "Connection contract not configured"


def _temp_files(gw: Gateway) -> list[Path]:
    return [p for p in gw.storage_files() if p.name.endswith(".part")]


def _login(client: httpx.Client, user: str, headers: dict[str, str] | None = None) -> httpx.Response:
    r = client.post("/2.0/login/basic", data={"username": user, "password": password(user)}, headers=headers)
    assert r.status_code == 200, r.text
    return r


def _cookie_header(response: httpx.Response) -> str:
    """The ``Cookie`` header a browser would send back for the response's ``Set-Cookie`` lines."""
    return "; ".join(line.split(";", 1)[0].strip() for line in response.headers.get_list("set-cookie"))


def _cookie_attributes(response: httpx.Response) -> dict[str, set[str]]:
    """Cookie name → its lower-cased attribute names (``secure``, ``httponly``, ...)."""
    result: dict[str, set[str]] = {}
    for line in response.headers.get_list("set-cookie"):
        first, *attributes = (part.strip() for part in line.split(";"))
        result[first.split("=", 1)[0]] = {a.split("=", 1)[0].lower() for a in attributes}
    return result


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


# --- 1. Graceful shutdown -----------------------------------------------------------------------


def test_serve_sigterm_mid_upload_finishes_or_discards_cleanly_and_exits_zero(
    catalog_url: str | None, tmp_path: Path
) -> None:
    root = tmp_path / "gw"
    gw = Gateway(root=root, database_url=catalog_url).start()
    chunks = [bytes([i]) * 64 * 1024 for i in range(24)]  # 1.5 MiB sent over ~2.4 s
    content = b"".join(chunks)
    in_flight = threading.Event()
    outcome: list[httpx.Response | BaseException] = []

    def body() -> Iterator[bytes]:
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="graceful.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        for i, chunk in enumerate(chunks):
            if i == 4:
                in_flight.set()
            time.sleep(0.1)
            yield chunk
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    def upload(client: httpx.Client) -> None:
        try:
            headers = {"Content-Type": MULTIPART}  # no length: sent chunked, as it is produced
            outcome.append(client.put("/2.0/files/inbox/graceful.bin", content=body(), headers=headers))
        except BaseException as exc:  # reported below; a thread must not raise
            outcome.append(exc)

    try:
        with closing(gw.client("alice")) as client:
            thread = threading.Thread(target=upload, args=(client,))
            thread.start()
            try:
                assert in_flight.wait(10), "the upload never started"
                deadline = time.monotonic() + 10
                while not _temp_files(gw):  # the server is streaming it into a temp file
                    assert time.monotonic() < deadline, "no temp file while the upload was in flight"
                    time.sleep(0.02)
                assert gw.process is not None
                gw.process.send_signal(signal.SIGTERM)
                sent = time.monotonic()
                code = gw.process.wait(30 + 10)  # graceful_shutdown_seconds (30) plus slack
                stopped_after = time.monotonic() - sent
            finally:
                thread.join(60)
            assert not thread.is_alive()
    finally:
        gw.kill()

    assert len(outcome) == 1
    result = outcome[0]
    completed = isinstance(result, httpx.Response) and result.status_code == 201
    print(f"\nupload during shutdown: {result!r}; process ended {stopped_after:.2f}s after SIGTERM with {code}")
    assert _temp_files(gw) == [], "a graceful shutdown must not leave temp files behind"
    with running(Gateway(root=root, database_url=catalog_url)) as again, closing(again.client("alice")) as client:
        got = client.get("/2.0/files/inbox/graceful.bin")
        listing = client.get("/2.0/directories/inbox", params={"filter": "graceful.bin"}).json()
        if completed:
            assert got.status_code == 200 and got.content == content
            assert [e["name"] for e in listing["elements"]] == ["graceful.bin"]
        else:
            assert_envelope(got, 404, "io")
            assert listing["total"] == 0
            assert [p for p in again.storage_files() if "objects" in p.parts] == []
        assert _temp_files(again) == []
    assert stopped_after < 30 + 5, stopped_after
    assert code == 0, f"SIGTERM must end the process with exit code 0 after a graceful shutdown, got {code}"


# --- 2. Sessions --------------------------------------------------------------------------------


def test_session_gateway_restarted_same_cookies_still_valid(catalog_url: str | None, tmp_path: Path) -> None:
    root = tmp_path / "gw"
    with running(Gateway(root=root, database_url=catalog_url)) as gw, closing(gw.client("alice")) as first:
        assert first.get("/2.0/directories/").status_code == 200
        cookies = httpx.Cookies(first.cookies)
    with running(Gateway(root=root, database_url=catalog_url)) as gw:
        with httpx.Client(base_url=gw.url, cookies=cookies, timeout=30) as second:
            r = second.get("/2.0/directories/")
            assert r.status_code == 200, r.text
            assert r.json()["result"] == "ok"
        with httpx.Client(base_url=gw.url, cookies={"sp-http-usr": "alice", "sp-http-ses": "forged"}) as forged:
            assert_envelope(forged.get("/2.0/directories/"), 401, "authentication")


@pytest.fixture(scope="module")
def short_sessions(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway whose sessions end after 2 s idle or 3 s in all."""
    config = merged(default_config(), session_idle_seconds=2, session_absolute_seconds=3)
    with running(Gateway(root=tmp_path_factory.mktemp("short"), database_url=catalog_url, config=config)) as gw:
        yield gw


def test_session_idle_longer_than_idle_lifetime_401(short_sessions: Gateway) -> None:
    with closing(short_sessions.client("alice")) as client:
        assert client.get("/2.0/directories/").status_code == 200
        last_use = time.monotonic()
        _sleep_until(last_use + 2.6)
        assert_envelope(client.get("/2.0/directories/"), 401, "authentication", "Invalid username or password")


def test_session_used_every_second_valid_until_absolute_lifetime_then_401(short_sessions: Gateway) -> None:
    """Activity keeps a session past its idle lifetime (2 s), but never past its absolute one (3 s)."""
    with httpx.Client(base_url=short_sessions.url, timeout=30) as client:
        before_login = time.monotonic()
        _login(client, "alice")
        after_login = time.monotonic()
        for offset in (0.8, 1.6, 2.4):  # each 0.8 s after the previous use, all < 3 s after login
            _sleep_until(before_login + offset)
            r = client.get("/2.0/directories/")
            assert r.status_code == 200, (
                f"a session last used 0.8s ago (idle lifetime 2s) and created <{offset}s ago "
                f"(absolute lifetime 3s) must still be valid: {r.status_code} {r.text}"
            )
        _sleep_until(after_login + 3.3)  # used ~1 s ago: only the absolute lifetime can end it
        assert_envelope(client.get("/2.0/directories/"), 401, "authentication")


# --- 3. Crash leftovers -------------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait(10)
    try:
        os.kill(child.pid, 0)
    except ProcessLookupError:
        return child.pid
    pytest.skip("the pid of an exited child was reused at once")


def test_serve_startup_sweeps_temp_files_of_dead_processes(catalog_url: str | None, tmp_path: Path) -> None:
    gw = Gateway(root=tmp_path / "gw", database_url=catalog_url)
    tmp = gw.data_dir / "storage" / "tmp"
    tmp.mkdir(parents=True)
    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "localhost"  # as gateway/storage/local.py
    dead = tmp / f"{host}.{_dead_pid()}.{uuid.uuid4().hex}.part"
    alive = tmp / f"{host}.{os.getpid()}.{uuid.uuid4().hex}.part"  # a live writer (this test process)
    foreign = tmp / f"other-host.1.{uuid.uuid4().hex}.part"  # another host's pid says nothing here
    ancient = tmp / f"other-host.2.{uuid.uuid4().hex}.part"
    for path in (dead, alive, foreign, ancient):
        path.write_bytes(b"half an upload")
    day_old = time.time() - 25 * 3600
    os.utime(ancient, (day_old, day_old))

    with running(gw):
        assert not dead.exists()
        assert not ancient.exists()
        assert alive.exists()
        assert foreign.exists()
        assert re.search(r"[Rr]emoved 2 (stale )?temp file", gw.log()), gw.log()


def test_serve_killed_mid_upload_restart_sweeps_its_temp_file_no_row(catalog_url: str | None, tmp_path: Path) -> None:
    """SIGKILL leaves the half-written temp file behind; the next start removes it and no file appears."""
    root = tmp_path / "gw"
    gw = Gateway(root=root, database_url=catalog_url).start()
    try:
        with closing(gw.client("alice")) as client:
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="killed.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        length = len(head) + 8 * 2**20 + len(f"\r\n--{BOUNDARY}--\r\n")
        request = (
            f"PUT /2.0/files/inbox/killed.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
            f"Content-Type: {MULTIPART}\r\nContent-Length: {length}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
            sock.sendall(request + head + bytes(4 * 2**20))
            deadline = time.monotonic() + 10
            while not _temp_files(gw):
                assert time.monotonic() < deadline, "no temp file while the upload was in flight"
                time.sleep(0.02)
            gw.kill()
    finally:
        gw.kill()
    leftovers = _temp_files(gw)
    assert leftovers, "a killed process cannot clean up: its temp file should still be there"

    with running(Gateway(root=root, database_url=catalog_url)) as again, closing(again.client("alice")) as client:
        assert _temp_files(again) == []
        assert re.search(r"[Rr]emoved 1 (stale )?temp file", again.log()), again.log()
        assert_envelope(client.get("/2.0/files/inbox/killed.bin"), 404, "io")
        r = client.get("/2.0/directories/inbox", params={"filter": "killed.bin"})
        assert r.status_code == 200 and r.json()["total"] == 0


# --- 4. Health, readiness, configuration errors -------------------------------------------------


def test_health_and_ready_200_json(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        health = client.get("/health")
        assert health.status_code == 200
        assert health.headers["content-type"].startswith("application/json")
        assert health.json()["status"] == "ok"
        ready = client.get("/ready")
        assert ready.status_code == 200
        assert ready.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = ready.json()
        assert body["status"] == "ready"
        assert body["checks"]["catalog"] == "ok"


def _broken_config(directory: Path) -> Path:
    config = default_config()
    config["contracts.yaml"]["contracts"][0]["vfs"] = "no-such-vfs"
    return write_config(directory, config)


def test_check_config_unknown_vfs_nonzero_names_file_and_key(tmp_path: Path) -> None:
    config_dir = _broken_config(tmp_path / "config")
    done = subprocess.run(
        [str(SERVE), "check-config", str(config_dir), "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert str(config_dir / "contracts.yaml") in output, output
    assert "contracts[0].vfs" in output and "no-such-vfs" in output, output


def test_serve_broken_config_exits_nonzero_without_listening(tmp_path: Path) -> None:
    config_dir = _broken_config(tmp_path / "config")
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    port_file = tmp_path / "port"
    args = [str(SERVE), "serve", "--config", str(config_dir), "--data-dir", str(tmp_path / "data")]
    args += ["--host", "127.0.0.1", "--port", str(port), "--port-file", str(port_file)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "contracts.yaml" in done.stderr and "contracts[0].vfs" in done.stderr, done.stderr
    assert not port_file.exists()
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.settimeout(5)
        s.connect(("127.0.0.1", port))


# --- 5. Trusted proxies -------------------------------------------------------------------------

FORWARDED_HTTPS = {"X-Forwarded-Proto": "https"}


def test_proxy_untrusted_peer_forwarded_https_ignored_contract_missing(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        login = _login(client, "sam", FORWARDED_HTTPS)
        assert all("secure" not in attrs for attrs in _cookie_attributes(login).values()), login.headers
        headers = {**FORWARDED_HTTPS, "Cookie": _cookie_header(login)}
        r = client.get("/2.0/directories/", headers=headers)
        assert_envelope(r, 401, "configuration", CONTRACT_MISSING)


def test_proxy_trusted_peer_forwarded_https_honoured_secure_cookies(gateway: Gateway) -> None:
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=gateway.url, transport=transport, timeout=30) as client:
        login = _login(client, "sam", FORWARDED_HTTPS)
        attributes = _cookie_attributes(login)
        assert set(attributes) == {"sp-http-usr", "sp-http-ses"}
        assert all({"secure", "httponly", "samesite"} <= attrs for attrs in attributes.values()), login.headers
        cookie = {"Cookie": _cookie_header(login)}
        r = client.get("/2.0/directories/", headers={**FORWARDED_HTTPS, **cookie})
        assert r.status_code == 200, r.text
        assert r.json()["result"] == "ok"
        # the same trusted proxy forwarding a plain-http request: sam has no http contract
        assert_envelope(client.get("/2.0/directories/", headers=cookie), 401, "configuration", CONTRACT_MISSING)


# --- 6. TLS -------------------------------------------------------------------------------------


def test_serve_tls_https_contract_works_cookies_secure(catalog_url: str | None, tmp_path: Path) -> None:
    cert, key, context = tls_files(tmp_path)

    with running(Gateway(root=tmp_path / "gw", database_url=catalog_url, tls=(cert, key))) as gw:
        assert gw.url.startswith("https://")
        with httpx.Client(base_url=gw.url, verify=context, timeout=30) as client:
            login = _login(client, "sam")
            attributes = _cookie_attributes(login)
            assert set(attributes) == {"sp-http-usr", "sp-http-ses"}
            assert all({"secure", "httponly", "samesite"} <= attrs for attrs in attributes.values()), login.headers
            r = client.get("/2.0/directories/")
            assert r.status_code == 200, r.text
            assert r.json()["result"] == "ok"
