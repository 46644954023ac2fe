#!/usr/bin/env python3
"""The floor *with the gateway's features*: what a 4 KiB upload and download must cost here.

    .venv/bin/python bench/feature_floor.py [--rounds 3] [--count 4000] [--levels 0-7] [--no-gateway]

Issue 14's budget (≤ 110 µs of server CPU per relaxed 4 KiB upload, ≤ 65 µs per download, one
process) was set from a minimal server (``../shared/perf-floor``) that does a toy version of the
work: no session, no SHA-256, a two-column schema, no transfer row, no storage safety walk, no
access log. This bench answers the question the budget leaves open: how much of the gateway's
cost is the work its features *require*, and how much is the code around that work.

It is one raw ASGI app on uvicorn (uvloop, httptools; no framework, no middleware, no
``logging``), written for speed as a measuring instrument, not a design to copy. Each level adds
one required piece of work to the one below, as the gateway does it (the same SQL, compiled from
the gateway's own statements, on a catalog made by the gateway's own migrations):

    0  the floor: path check, a bytes.find multipart extractor, temp file renamed into place,
       a file row and an event row in a two-table schema; download SELECT + pread + event row.
       Group commit per event-loop turn, the response waiting for it.
    1  + the session: both STENG cookies found, the token's SHA-256 looked up (cached, as the
       gateway's session cache), the user checked.
    2  + SHA-256 of the body, and ETag / Repr-Digest / Content-Disposition on downloads.
    3  + the gateway's catalog: its schema (every index, the folder-count trigger), the path
       lookup before the insert, the file row and event row with RETURNING, a savepoint per
       request; downloads update firstReadDate / lastAccessTime.
    4  + a transfer row per request (written in batches every 0.25 s, as core/transfer_log.py).
    5  + the storage layout and its safety walk: random key under objects/<xx>/, each directory
       opened with O_NOFOLLOW from the root, the result re-resolved from the root (as
       storage/local.py); downloads open the object the same way.
    6  + the access log line (formatted, written by a thread every 50 ms, as logsetup.py).
    7  + the gateway's uvicorn protocol (connguard.py: connection limits, the head timer and
       size checks, coalesced small writes, the pathsend offer on GETs) instead of uvicorn's own.

The driver starts each level's server (fresh data directory), rclone and the gateway itself (the
bench configuration of ``bench/run.py``: relaxed, one process), runs the same wrk client as
``bench/run.py`` (16 connections, distinct files) against each, reversing the order every round,
and prints the server CPU per request (process tree, /proc) and its ratio to rclone's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LEVEL = int(os.environ.get("FF_LEVEL", "0"))
DATA = Path(os.environ.get("FF_DATA", "ff-data"))
PREFIX = b"/2.0/files/small/"
TOKEN = "ff-" + "t" * 40
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


# --- the server --------------------------------------------------------------------------------


def _compiled() -> dict[str, tuple[str, tuple[str, ...]]]:
    """The gateway's own hot statements, as catalog/db.py ``Prepared`` runs them on SQLite."""
    from sqlalchemy.dialects import sqlite

    from gateway.catalog import files, transfers

    dialect = sqlite.dialect()
    return {
        "by_path": files._BY_PATH.sqlite(dialect),
        "insert_file": files._INSERT_FILE.sqlite(dialect),
        "insert_event": files._INSERT_EVENT.sqlite(dialect),
        "first_read": files._FIRST_READ.sqlite(dialect),
        "insert_transfer": transfers._INSERT.sqlite(dialect),
    }


class Catalog:
    """One sqlite3 connection; group commit per event-loop turn (the response waits for it)."""

    def __init__(self) -> None:
        import sqlite3

        db_file = DATA / "catalog.db"
        if LEVEL >= 3:
            from gateway.catalog.db import Database

            async def migrate() -> None:
                database = Database(f"sqlite:///{db_file}", durable=False)
                await database.migrate()
                await database.dispose()

            asyncio.run(migrate())
            self.sql = _compiled()
        self.db = sqlite3.connect(db_file, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        if LEVEL < 3:
            self.db.executescript(
                "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER NOT NULL,"
                " mtime INTEGER NOT NULL, owner TEXT NOT NULL, storage TEXT NOT NULL, sha256 TEXT);"
                "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
                " kind TEXT NOT NULL, user TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL);"
            )
        self.done: asyncio.Future[None] | None = None
        self.transfers: list[dict[str, Any]] = []

    def begin(self) -> asyncio.Future[None]:
        if self.done is None:
            self.db.execute("BEGIN IMMEDIATE")
            loop = asyncio.get_running_loop()
            self.done = loop.create_future()
            loop.call_soon(self._commit)
        return self.done

    def _commit(self) -> None:
        self.db.execute("COMMIT")
        done, self.done = self.done, None
        assert done is not None
        done.set_result(None)

    def run(self, name: str, params: dict[str, Any]) -> Any:
        sql, names = self.sql[name]
        return self.db.execute(sql, [params[n] for n in names])

    async def flush_transfers(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            if self.transfers:
                rows, self.transfers = self.transfers, []
                sql, names = self.sql["insert_transfer"]
                self.begin()
                self.db.executemany(sql, [[r[n] for n in names] for r in rows])


class AccessLog:
    """Lines kept on the loop and written by a thread every 50 ms."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.out = open(DATA / "access.log", "a", encoding="utf-8")
        threading.Thread(target=self._writer, daemon=True).start()

    def _writer(self) -> None:
        while True:
            time.sleep(0.05)
            lines, self.lines = self.lines, []
            if lines:
                self.out.write("".join(lines))
                self.out.flush()

    def line(self, scope: dict[str, Any], status: int, size: int, started: float) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        self.lines.append(
            f'{stamp} INFO gateway.access: {scope["client"][0]} "{scope["method"]} {scope["path"]}" '
            f"{status} {size} {(time.perf_counter() - started) * 1000:.1f}ms id={random.getrandbits(128):032x}\n"
        )


class App:
    def __init__(self) -> None:
        for d in ("files", "tmp", "objects"):
            (DATA / d).mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog()
        self.sessions = {hashlib.sha256(TOKEN.encode()).hexdigest(): "bench"}
        self.log = AccessLog() if LEVEL >= 6 else None
        self.root = str(DATA)
        self.seq = 0
        self.started = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                while (await receive())["type"] != "lifespan.shutdown":
                    await send({"type": "lifespan.startup.complete"})
                await send({"type": "lifespan.shutdown.complete"})
            return
        if not self.started and LEVEL >= 4:
            self.started = True
            asyncio.get_running_loop().create_task(self.catalog.flush_transfers())
        started = time.perf_counter()
        raw = scope["raw_path"]
        name = raw[len(PREFIX) :].decode() if raw.startswith(PREFIX) else ""
        if not name or "/" in name or name[0] == "." or len(name) > 255:
            status, body, headers = 400, b'{"result":"error"}', [(b"content-type", b"application/json")]
        elif LEVEL >= 1 and not self._session(scope):
            status, body, headers = 401, b'{"result":"error"}', [(b"content-type", b"application/json")]
        elif scope["method"] == "PUT":
            status, body, headers = await self._upload(scope, receive, name)
        else:
            status, body, headers = await self._download(name)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        if self.log is not None:
            self.log.line(scope, status, len(body), started)

    def _session(self, scope: dict[str, Any]) -> bool:
        for key, value in scope["headers"]:
            if key == b"cookie":
                cookies = dict(p.strip().split("=", 1) for p in value.decode().split(";") if "=" in p)
                token = cookies.get("sp-http-ses", "")
                user = self.sessions.get(hashlib.sha256(token.encode()).hexdigest())
                return user is not None and cookies.get("sp-http-usr") == user
        return False

    async def _upload(self, scope: dict[str, Any], receive: Any, name: str) -> tuple[int, bytes, list[Any]]:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        ctype = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
        data = _extract(body, ctype.partition(b"boundary=")[2])
        if data is None:
            return 400, b'{"result":"error"}', [(b"content-type", b"application/json")]
        sha = hashlib.sha256(data).hexdigest() if LEVEL >= 2 else ""
        now = time.time_ns() // 1000
        if LEVEL >= 5:
            key = self._store_safely(data)
        else:
            self.seq += 1
            tmp = f"{self.root}/tmp/{self.seq}"
            fd = os.open(tmp, NEW_FLAGS, 0o640)
            os.write(fd, data)
            os.close(fd)
            key = f"{self.root}/files/{name}"
            os.rename(tmp, key)
        cat = self.catalog
        done = cat.begin()
        if LEVEL >= 3:
            cat.db.execute("SAVEPOINT w")
            cat.run("by_path", {"b_vfs": "bench", "b_folder": "small", "b_name": name}).fetchall()
            fileset = cat.run("insert_file", {
                "vfs": "bench", "folder": "small", "name": name, "storage": "default", "storage_key": key,
                "size": len(data), "sha256": sha, "datatype": "application/octet-stream", "correlation_id": "",
                "description": "", "dst_file_name": "", "put_date": now, "creation_time": now,
                "last_modified_time": now, "expiry_date": None, "actor": "BenchPartner", "uploaded_by": "bench",
            }).lastrowid  # fmt: skip
            cat.run("insert_event", _event("upload", now, name, fileset, len(data), sha))
            cat.db.execute("RELEASE w")
        else:
            cat.db.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", (name, len(data), now, "bench", key, sha)
            )
            cat.db.execute("INSERT INTO events (ts, kind, user, path, size) VALUES (?, ?, ?, ?, ?)",
                           (now, "upload", "bench", name, len(data)))  # fmt: skip
        if LEVEL >= 4:
            cat.transfers.append(_transfer("upload", now, name, len(data), sha))
        await done
        answer = json.dumps({"result": "ok", "timestamp": now, "message": "uploaded", "fileset": 1}).encode()
        return 201, answer, [(b"content-type", b"application/json")]

    async def _download(self, name: str) -> tuple[int, bytes, list[Any]]:
        cat = self.catalog
        now = time.time_ns() // 1000
        if LEVEL >= 3:
            rows = cat.run("by_path", {"b_vfs": "bench", "b_folder": "small", "b_name": name}).fetchall()
            if not rows:
                return 404, b'{"result":"error"}', [(b"content-type", b"application/json")]
            fileset, key, size, sha = rows[0][0], rows[0][5], rows[0][6], rows[0][7]
        else:
            found = cat.db.execute("SELECT size, storage, sha256 FROM files WHERE path = ?", (name,)).fetchone()
            if found is None:
                return 404, b'{"result":"error"}', [(b"content-type", b"application/json")]
            fileset, (size, key, sha) = 0, found
        fd = self._open_object(key) if LEVEL >= 5 else os.open(key, os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.pread(fd, size, 0)
        finally:
            os.close(fd)
        done = cat.begin()
        if LEVEL >= 3:
            cat.db.execute("SAVEPOINT w")
            cat.run("first_read", {"b_id": fileset, "b_now": now})
            cat.run("insert_event", _event("download", now, name, fileset, size, sha))
            cat.db.execute("RELEASE w")
        else:
            cat.db.execute("INSERT INTO events (ts, kind, user, path, size) VALUES (?, ?, ?, ?, ?)",
                           (now, "download", "bench", name, size))  # fmt: skip
        if LEVEL >= 4:
            cat.transfers.append(_transfer("download", now, name, size, sha))
        await done
        headers = [(b"content-type", b"application/octet-stream")]
        if LEVEL >= 2:
            digest = base64.b64encode(bytes.fromhex(sha)).decode()
            headers += [
                (b"content-disposition", f'attachment; filename="{name}"'.encode()),
                (b"etag", f'"{sha}"'.encode()),
                (b"repr-digest", f"sha-256=:{digest}:".encode()),
            ]
        return 200, data, headers

    def _walk(self, parts: tuple[str, ...]) -> int:
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        for part in parts:
            child = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        return fd

    def _store_safely(self, data: bytes) -> str:
        hexkey = uuid.uuid4().hex
        sub, tmp_name = hexkey[:2], f"up-{hexkey}"
        tmp_dir = self._walk(("tmp",))
        try:
            fd = os.open(tmp_name, NEW_FLAGS, 0o640, dir_fd=tmp_dir)
            os.write(fd, data)
            written = os.fstat(fd)
            os.close(fd)
            try:
                sub_fd = self._walk(("objects", sub))
            except FileNotFoundError:
                os.mkdir(f"{self.root}/objects/{sub}", 0o750)
                sub_fd = self._walk(("objects", sub))
            try:
                os.rename(tmp_name, hexkey, src_dir_fd=tmp_dir, dst_dir_fd=sub_fd)
            finally:
                os.close(sub_fd)
        finally:
            os.close(tmp_dir)
        check = self._walk(("objects", sub))
        try:
            st = os.stat(hexkey, dir_fd=check, follow_symlinks=False)
        finally:
            os.close(check)
        assert (st.st_dev, st.st_ino) == (written.st_dev, written.st_ino)
        return f"objects/{sub}/{hexkey}"

    def _open_object(self, key: str) -> int:
        _, sub, name = key.split("/")
        sub_fd = self._walk(("objects", sub))
        try:
            return os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=sub_fd)
        finally:
            os.close(sub_fd)


def _extract(body: bytes, boundary: bytes) -> bytes | None:
    delim = b"--" + boundary.strip(b'"')
    if not boundary or not body.startswith(delim):
        return None
    head_end = body.find(b"\r\n\r\n", len(delim))
    if head_end < 0 or body.find(b'name="file"', len(delim), head_end) < 0:
        return None
    end = body.find(b"\r\n" + delim, head_end + 4)
    return None if end < 0 else body[head_end + 4 : end]


def _event(kind: str, now: int, name: str, fileset: int, size: int, sha: str) -> dict[str, Any]:
    return {
        "type": kind, "time": now, "actor": "BenchPartner", "user_name": "bench", "protocol": "http",
        "contract": "bench", "vfs": "bench", "path": f"/small/{name}", "fileset": fileset, "size": size,
        "sha256": sha, "client_address": "127.0.0.1", "metadata": "{}", "chain": "[]",
    }  # fmt: skip


def _transfer(direction: str, now: int, name: str, size: int, sha: str) -> dict[str, Any]:
    from gateway.core.transfer_log import new_id  # the gateway's: time-ordered, one index page per batch

    return {
        "id": new_id(), "direction": direction, "protocol": "http", "source": "http://127.0.0.1",
        "destination": f"bench:/small/{name}", "size": size, "bytes_transferred": size, "progress": 100,
        "speed": 0, "status": "completed", "started_at": now, "ended_at": now, "updated_at": now, "sha256": sha,
        "agent_id": None, "partner": "BenchPartner", "owner": "bench", "run_id": None, "error": None,
    }  # fmt: skip


def serve(port: int) -> None:
    import uvicorn

    http: Any = "httptools"
    if LEVEL >= 7:
        from gateway.config.schema import ServerConfig
        from gateway.connguard import uvicorn_protocol

        http = uvicorn_protocol(ServerConfig())
    uvicorn.run(App(), host="127.0.0.1", port=port, loop="uvloop", http=http, access_log=False,
                proxy_headers=False, log_level="warning", lifespan="on")  # fmt: skip


# --- the driver --------------------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--count", type=int, default=4000)
    p.add_argument("--levels", default="0-7", help="e.g. 0-7 or 0,3,7")
    p.add_argument("--no-gateway", dest="gateway", action="store_false", help="leave out the gateway itself")
    p.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve)
        return
    sys.path.insert(0, str(HERE))
    import loadgen
    import servers

    first, _, last = args.levels.partition("-")
    levels = list(range(int(first), int(last) + 1)) if last else [int(x) for x in args.levels.split(",")]
    (HERE / "work").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ff-", dir=HERE / "work"))
    payload = work / "small.bin"
    payload.write_bytes(bytes(range(256)) * 16)
    cookie = f"sp-http-usr=bench; sp-http-ses={TOKEN}"
    results: dict[str, list[tuple[float, float]]] = {}
    try:
        targets: dict[str, servers.Server] = {"rclone": servers.start_rclone(work / "rclone")}
        if args.gateway:
            from gateway.catalog.passwords import hash_password

            gw = servers.prepare_gateway(
                work / "gateway", "gateway", False, "uvicorn", 1, hash_password(servers.BENCH_PASSWORD)
            )
            targets["gateway"] = servers.start_gateway(gw)
        for level in levels:
            server = servers.Server(f"L{level}", "floor", work / f"L{level}", port=servers.free_port())
            env = {**os.environ, "FF_LEVEL": str(level), "FF_DATA": str(work / f"L{level}" / "data"),
                   "PYTHONPATH": str(HERE.parent)}  # fmt: skip
            server.launch([sys.executable, str(Path(__file__).resolve()), "--serve", str(server.port)], env=env)
            _wait_port(server)
            targets[server.name] = server
        for r in range(args.rounds):
            names = list(targets) if r % 2 == 0 else list(reversed(targets))
            for name in names:
                server = targets[name]
                out = []
                if name == "rclone":
                    _mkcol(server.url + f"/r{r}")
                    prefix, multipart, c = f"/r{r}/", False, ""
                else:
                    prefix, multipart, c = f"/2.0/files/small/r{r}-", True, server.cookie or cookie
                for mode in ("put", "get"):
                    cpu0 = server.cpu_seconds()
                    res = loadgen.run_wrk(server.url + "/", mode, args.count, prefix, payload, cookie=c,
                                          multipart=multipart)  # fmt: skip
                    if res.ok != args.count or res.bad:
                        raise RuntimeError(f"{name} {mode}: {res.ok} ok, {res.bad} failed {res.errors}")
                    out.append((server.cpu_seconds() - cpu0) / args.count * 1e6)
                results.setdefault(name, []).append((out[0], out[1]))
                print(f"round {r} {name:7s} upload {out[0]:6.1f} µs  download {out[1]:6.1f} µs", flush=True)
    finally:
        servers.stop_all()
    rc_up = statistics.median(u for u, _ in results["rclone"])
    rc_down = statistics.median(d for _, d in results["rclone"])
    print(f"\nmedians of {args.rounds} rounds, server CPU per request (µs); ratio = rclone's CPU ÷ this one's\n")
    print("| server | upload µs | ÷ rclone | download µs | ÷ rclone |")
    print("|---|---:|---:|---:|---:|")
    for name, vals in results.items():
        up = statistics.median(u for u, _ in vals)
        down = statistics.median(d for _, d in vals)
        print(f"| {name} | {up:.0f} | {rc_up / up:.2f} | {down:.0f} | {rc_down / down:.2f} |")
    print(f"\nwork dir: {work}")


def _mkcol(url: str) -> None:
    import httpx

    httpx.request("MKCOL", url, timeout=10)


def _wait_port(server: Any) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.log_tail()}")
        try:
            httpx.get(server.url + "/", timeout=2)
            server.pids = [server.process.pid]
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{server.name} did not start:\n{server.log_tail()}")


if __name__ == "__main__":
    main()
