"""``server.workers: 2``: a supervisor and two worker processes on one port, one catalog.

Checked on real processes with curl and httpx, on SQLite (where the workers' writes meet in one
database file) and PostgreSQL: new connections reach both workers; concurrent uploads through
both are all committed and readable through either; a logout reaches every worker within the
session cache's window; a killed worker is replaced while the other keeps serving; SIGTERM stops
everything with exit 0; a killed supervisor takes its workers with it; a worker that cannot start
stops the whole thing with its exit code.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.catalog import sessions
from gateway.workers import restart_pause
from tests.e2e.harness import SERVE, Curl, Gateway, assert_envelope, default_config, merged, running

WORKERS = 2
_ACCESS = re.compile(r"gateway\.access \[worker (\d+), pid (\d+)\]: \S+ \"(\w+) (\S+)\" (\d+)")


def _config(**server: object) -> dict[str, dict[str, Any]]:
    return merged(default_config(), workers=WORKERS, **server)


def worker_pids(gw: Gateway) -> set[int]:
    """The supervisor's live children."""
    assert gw.process is not None
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == gw.process.pid and fields[0] != "Z":
                pids.add(int(entry))
    return pids


def served_by(gw: Gateway, method: str, path_prefix: str) -> dict[int, int]:
    """pid -> how many ``method`` requests under ``path_prefix`` its access log lines show."""
    counts: dict[int, int] = {}
    for _, pid, m, path, _ in _ACCESS.findall(gw.log()):
        if m == method and path.startswith(path_prefix):
            counts[int(pid)] = counts.get(int(pid), 0) + 1
    return counts


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def fresh_client(gw: Gateway, cookies: httpx.Cookies) -> httpx.Client:
    """A client on a new connection (new source port: the kernel may pick either worker)."""
    return httpx.Client(base_url=gw.url, cookies=cookies, timeout=30)


@pytest.fixture(scope="module")
def gateway(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = Gateway(root=tmp_path_factory.mktemp("gw"), database_url=catalog_url, config=_config())
    with running(gw):
        yield gw


def test_startup_line_names_the_workers_and_two_worker_processes_run(gateway: Gateway) -> None:
    assert f"(uvicorn, {WORKERS} workers)" in gateway.log()
    assert len(worker_pids(gateway)) == WORKERS


def test_concurrent_uploads_through_both_workers_are_all_committed_and_readable(gateway: Gateway) -> None:
    with closing(gateway.client("alice")) as login:
        cookies = login.cookies
    contents = {f"w-{i:03d}.bin": hashlib.sha256(str(i).encode()).digest() * (1 + i % 50) for i in range(120)}
    names = sorted(contents)

    def put_batch(batch: list[str]) -> list[tuple[str, int, str]]:
        with fresh_client(gateway, cookies) as client:
            out = []
            for name in batch:
                r = client.put(f"/2.0/files/inbox/{name}", files={"file": (name, contents[name])})
                out.append((name, r.status_code, r.headers.get("etag", "")))
            return out

    with ThreadPoolExecutor(12) as pool:
        results = [x for part in pool.map(put_batch, [names[i::12] for i in range(12)]) for x in part]
    assert [(n, s) for n, s, _ in results] == [(n, 201) for n, _, _ in results]
    writers = served_by(gateway, "PUT", "/2.0/files/inbox/w-")
    assert set(writers) <= worker_pids(gateway) and len(writers) == WORKERS, writers

    with closing(gateway.client("alice")) as client:
        assert client.get("/2.0/countelements/inbox", params={"filter": "w-*"}).text == str(len(names))
        listing = client.get("/2.0/directories/inbox", params={"filter": "w-*", "limit": 500}).json()
        assert [e["name"] for e in listing["elements"]] == names
    readers: set[int] = set()
    for name in names[:40]:  # a new connection each: both workers answer
        with fresh_client(gateway, cookies) as client:
            r = client.get(f"/2.0/files/inbox/{name}")
            assert r.status_code == 200 and r.content == contents[name], name
            assert r.headers["etag"] == f'"{hashlib.sha256(contents[name]).hexdigest()}"'
    readers = set(served_by(gateway, "GET", "/2.0/files/inbox/w-"))
    assert len(readers) == WORKERS, readers


def test_curl_partner_script_runs_unchanged_against_workers(gateway: Gateway, tmp_path: Path) -> None:
    """Each curl call is a new process and connection, so a script's steps land on either worker."""
    curl = Curl(gateway, tmp_path / "jar.txt")
    assert curl.login("alice").status == 200
    source = tmp_path / "report.csv"
    source.write_bytes(b"id;amount\n" * 1000)
    for i in range(6):
        assert curl("-X", "PUT", "-F", f"file=@{source}", path=f"/2.0/files/outbox/report-{i}.csv").status == 201
        got = curl(path=f"/2.0/files/outbox/report-{i}.csv")
        assert got.status == 200 and got.body == source.read_bytes()
    assert curl(path="/2.0/countelements/outbox?filter=report-*").body == b"6"
    assert curl("-X", "POST", path="/2.0/logout").status == 200
    assert_envelope(curl(path="/2.0/countelements/outbox"), 401, "authentication")


def test_logout_reaches_every_worker_within_the_session_cache_window(gateway: Gateway) -> None:
    with closing(gateway.client("bob")) as client:
        cookies = client.cookies
        for _ in range(8):  # warm both workers' caches with this session
            with fresh_client(gateway, cookies) as other:
                assert other.get("/2.0/countelements/outbox").status_code == 200
        assert client.post("/2.0/logout").status_code == 200
    time.sleep(sessions.CACHE_SECONDS + 0.5)
    for _ in range(12):
        with fresh_client(gateway, cookies) as other:
            assert_envelope(other.get("/2.0/countelements/outbox"), 401, "authentication")


def test_granian_workers_share_the_port_too(tmp_path: Path) -> None:
    with running(Gateway(root=tmp_path / "gw", config=_config(http_server="granian"))) as gw:
        assert f"(granian, {WORKERS} workers)" in gw.log()
        with closing(gw.client("alice")) as login:
            cookies = login.cookies
        for _ in range(30):
            with fresh_client(gw, cookies) as client:
                assert client.get("/2.0/countelements/inbox").status_code == 200
        assert set(served_by(gw, "GET", "/2.0/countelements/inbox")) == worker_pids(gw)
        assert gw.stop() == 0


def test_a_killed_worker_is_replaced_while_the_other_serves(tmp_path: Path) -> None:
    with running(Gateway(root=tmp_path / "gw", config=_config())) as gw:
        before = worker_pids(gw)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        # Until its last thread has exited (a zombie leader is not enough), the kernel may still
        # queue new connections on the dead worker's socket, to be reset with it: as with any
        # SO_REUSEPORT server. Once the supervisor has reaped it, that socket is gone.
        wait_until(lambda: not Path(f"/proc/{victim}").exists(), 10, "the killed worker to be reaped")
        with closing(gw.client("alice")) as client:  # the other worker answers at once
            r = client.put("/2.0/files/inbox/during.txt", files={"file": ("during.txt", b"still here")})
            assert r.status_code == 201
        wait_until(lambda: len(worker_pids(gw) - {victim}) == WORKERS, 30, "a replacement worker")
        assert re.search(rf"worker \d \(pid {victim}\) exited with signal SIGKILL .*; restarting it", gw.log())
        replacement = (worker_pids(gw) - before).pop()

        def probe() -> bool:
            with httpx.Client(base_url=gw.url, timeout=10) as c:
                c.get("/ready")
            return bool(served_by(gw, "GET", "/ready").get(replacement))

        wait_until(probe, 30, "the replacement to answer /ready")
        with closing(gw.client("alice")) as client:
            assert client.get("/2.0/files/inbox/during.txt").content == b"still here"
        workers = worker_pids(gw)
        assert gw.stop() == 0
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers)


def test_sigterm_stops_every_worker_and_exits_0(tmp_path: Path) -> None:
    gw = Gateway(root=tmp_path / "gw", config=_config())
    with running(gw):
        workers = worker_pids(gw)
        assert len(workers) == WORKERS
        assert gw.stop() == 0
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers)
    assert "Traceback" not in gw.log()


def test_a_killed_supervisor_takes_its_workers_with_it(tmp_path: Path) -> None:
    with running(Gateway(root=tmp_path / "gw", config=_config())) as gw:
        workers = worker_pids(gw)
        gw.kill()  # SIGKILL: no chance to stop them itself
        wait_until(lambda: not any(Path(f"/proc/{p}").exists() for p in workers), 30, "the workers to exit")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{gw.url}/health", timeout=5)


def test_a_worker_that_cannot_start_stops_serve_with_an_error(tmp_path: Path) -> None:
    gw = Gateway(root=tmp_path / "gw", config=_config(), database_url="postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(RuntimeError, match="gateway exited with [1-9]"):
        gw.start(timeout=60)
    assert gw.process is not None and gw.process.returncode != 0
    assert "worker 0 exited with code" in gw.log()
    assert not worker_pids(gw)


def test_restart_pause_grows_while_a_worker_keeps_dying_and_resets_after_a_steady_life() -> None:
    pauses, pause = [], 0.0
    for _ in range(7):
        pause = restart_pause(2.0, pause)
        pauses.append(pause)
    assert pauses == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert restart_pause(60.0, 30.0) == 0.0  # lived long: restarted at once
    assert restart_pause(2.0, 0.0) == 1.0  # and dying young again starts the pauses over


def test_workers_flag_out_of_range_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(SERVE), "serve", "--config", str(tmp_path), "--workers", "0"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--workers: expected 'auto' or a whole number from 1 to 64, got '0'" in done.stderr
