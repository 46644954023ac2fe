#!/usr/bin/env python3
"""Where a small upload's and download's time goes, stage by stage, inside the app.

    .venv/bin/python bench/stages.py [--count 2000] [--tree DIR] [--profile N | --calls | --instructions]

Starts the gateway app in this process (the bench configuration of ``bench/servers.py``: login,
ACL, catalog, events, rate limits and the access log on; relaxed durability), logs in, then
drives ``--count`` 4 KiB multipart uploads and as many downloads **one at a time** straight
into the ASGI app (no socket, no HTTP parser: what ``bench/ab.py`` measures beyond this total
is uvicorn's share). The functions that make up each stage are wrapped by a timer of the event
loop thread's CPU time that keeps a stack, so every stage is charged only its own time (a nested
stage's time is its own). The rest (routing, middleware, request and response objects) is the
app total minus the stages. Work in other threads (the log listener's formatting and writing,
durable fsyncs) is not counted: it is the loop's budget that limits one process's rate. Requests
run one at a time, so each pays a whole group commit; under bench/ab.py's 16 connections one
commit serves several.

``--tree`` imports the gateway from another source tree (e.g. a ``git worktree`` of the base
revision), for the before/after table in bench/README.md; wrappers whose target does not exist
in that tree are skipped. ``--profile N`` prints cProfile's top N functions instead.

``--calls`` counts instead the function calls of one steady-state upload and one download (a
file uploaded and read once before, so every cache and compiled statement is warm), Python
functions and C functions apart, with ``sys.setprofile``: a count that does not move with the
host's load, for a change that removes calls from the request path. ``--calls-list`` also prints
each call, in order.

``--instructions`` counts the machine instructions per upload and per download with valgrind's
callgrind, every thread of the process included, with ``--count`` requests of each kind, 16 at a
time (so group commits are shared as under ``bench/ab.py``'s 16 connections), on uvloop as served.
It runs the app three times under valgrind (a few minutes), with ``--count`` more uploads, then
``--count`` more downloads, and takes the differences, so start-up, login and warm-up cancel out. Unlike CPU time,
the count does not move with the host's CPU model and hardly with its load: repeated runs of one
tree agree within about 0.3 % run alone, 1 % run two at a time, where ``bench/ab.py`` resolves
about 3 %. Two things it weighs differently
from a real run: SHA-256 runs without the CPU's SHA extensions under valgrind (about 115,000 of an
upload's instructions, a few thousand natively), and timers (the transfer-row flush every 0.25 s)
fire about 50 times as often per request, valgrind being that much slower; the catalog's
checkpoints are counted in commits instead of seconds for that reason (``_commit_clock``).
Instructions are not time: the count leaves out the kernel's share and uvicorn's, and cheap
instructions count as much as slow ones, so a lever's share of the count can be several times
its share of ``bench/ab.py``'s CPU (``gateway/frozen.py``: 7.8 % of an upload's instructions,
about 1.5 % of its time). It tells whether a change removes work and how much; ``ab.py`` tells
what that is worth.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import functools
import importlib
import inspect
import itertools
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
_STACK: contextvars.ContextVar[tuple[list[float], ...]] = contextvars.ContextVar("stages", default=())
TOTALS: dict[str, float] = defaultdict(float)

# stage -> "module:attribute" or "module:Class.method" (the first found of each is wrapped)
STAGES: dict[str, list[str]] = {
    "session (cookies, session lookup)": ["gateway.http.credentials:authenticate"],
    "rate limit": ["gateway.http.ratelimit:charge"],
    "path parsing": ["gateway.http.vpath:from_request"],
    "contract + ACL + VFS tree": [
        "gateway.core.contracts:resolve",
        "gateway.core.contracts:Access.ensure",
        "gateway.core.files:_file_target",
        "gateway.core.files:_require_folder",
    ],
    "multipart": ["gateway.http.upload:MultipartSource.receive"],
    "storage": [
        "gateway.storage.local:LocalBackend.open_write",
        "gateway.storage.local:LocalObjectWriter.write",
        "gateway.storage.local:LocalObjectWriter.commit",
        "gateway.storage.local:LocalBackend.open_read",
        "gateway.storage.local:LocalObjectReader.close",
    ],
    "catalog statements": [
        "gateway.catalog.files:put_file",
        "gateway.catalog.files:get_file",
        "gateway.catalog.files:record_download",
    ],
    "catalog commit (group)": ["gateway.catalog.db:Database._commit_batch"],
    "event (build + insert)": ["gateway.core.files:_event", "gateway.catalog.files:insert_event"],
    # Begun and finished per request, written by a flusher task every 0.25 s (its share here;
    # the commit it joins is the group commit's).
    "transfer row (begin, finish, batch write)": [
        "gateway.core.files:_track",
        "gateway.core.transfer_log:Tracker.finish",
        "gateway.core.transfer_log:_Book.flush",
    ],
    "access log": ["gateway.logsetup:access_line", "gateway.http.accesslog:log.info"],
    "response": [
        "gateway.http.files:ok",
        "gateway.http.downloads:FileDownload.__init__",
        "gateway.http.downloads:FileDownload.__call__",
    ],
}


def _timed(stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def enter() -> tuple[list[float], tuple[list[float], ...]]:
        frame = [time.thread_time(), 0.0]  # start, time of nested stages
        stack = _STACK.get()
        _STACK.set((*stack, frame))
        return frame, stack

    def leave(frame: list[float], stack: tuple[list[float], ...]) -> None:
        elapsed = time.thread_time() - frame[0]
        TOTALS[stage] += elapsed - frame[1]
        if stack:
            stack[-1][1] += elapsed
        _STACK.set(stack)

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            frame, stack = enter()
            try:
                return await fn(*args, **kwargs)
            finally:
                leave(frame, stack)

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        frame, stack = enter()
        try:
            return fn(*args, **kwargs)
        finally:
            leave(frame, stack)

    return wrapper


def install() -> list[str]:
    """Wrap every stage's functions that exist in the imported tree; returns what was wrapped.

    A module that imported a wrapped function by name (``from x import f``) gets the wrapper too.
    """
    wrapped: list[str] = []
    replaced: dict[int, Callable[..., Any]] = {}
    for stage, targets in STAGES.items():
        for target in targets:
            module_name, _, attr = target.partition(":")
            try:
                owner: Any = importlib.import_module(module_name)
            except ImportError:
                continue
            *path, name = attr.split(".")
            for part in path:
                owner = getattr(owner, part, None)
            original = getattr(owner, name, None) if owner is not None else None
            if original is None or not callable(original):
                continue
            wrapper = _timed(stage, original)
            setattr(owner, name, wrapper)
            replaced[id(original)] = wrapper
            wrapped.append(target)
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("gateway."):
            for attr, value in list(vars(module).items()):
                if id(value) in replaced and callable(value):
                    setattr(module, attr, replaced[id(value)])
    return wrapped


class Driver:
    """Calls the ASGI app as uvicorn would, one request at a time."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def request(self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 8080),
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
            "method": method,
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": headers,
            "state": {},
        }
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status


def _bench_config(root: Path) -> tuple[Path, Path]:
    sys.path.insert(0, str(HERE))
    import yaml
    from servers import gateway_config

    from gateway.catalog.passwords import hash_password

    config, data = root / "config", root / "data"
    config.mkdir()
    data.mkdir()
    for fname, doc in gateway_config(False, hash_password("bench-secret")).items():
        (config / fname).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return config, data


def _count_calls(calls: list[str]) -> Callable[[Any, str, Any], None]:
    def observe(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            calls.append(f"{code.co_filename}:{code.co_firstlineno} {code.co_qualname}")
        elif event == "c_call":
            calls.append(f"C {getattr(arg, '__qualname__', arg)}")

    return observe


async def run(count: int, profile: int, calls: int = 0, instr: tuple[int, int] | None = None) -> None:
    from gateway.app import create_app
    from gateway.logsetup import configure
    from gateway.settings import Settings

    configure("info")
    logging.getLogger("gateway.access").handlers.clear()
    root = Path(tempfile.mkdtemp(prefix="stages-", dir=HERE / "work"))
    config, data = _bench_config(root)
    app = create_app(Settings(config_dir=config, data_dir=data))
    wrapped = [] if profile or calls or instr else install()
    async with app.router.lifespan_context(app):
        drv = Driver(app)
        form = b"username=bench&password=bench-secret"
        cookies: list[bytes] = []

        async def capture(message: Any) -> None:
            for name, value in message.get("headers", []):
                if name == b"set-cookie":
                    cookies.append(value.split(b";", 1)[0])

        login_headers = [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(form)).encode()),
        ]

        async def login_receive() -> dict[str, Any]:
            return {"type": "http.request", "body": form, "more_body": False}

        scope = {"type": "http", "method": "POST", "path": "/2.0/login/basic", "raw_path": b"/2.0/login/basic",
                 "root_path": "", "query_string": b"", "headers": login_headers, "client": ("127.0.0.1", 1),
                 "server": ("127.0.0.1", 8080), "scheme": "http", "http_version": "1.1"}  # fmt: skip
        await app(scope, login_receive, capture)
        cookie = b"; ".join(cookies)
        boundary = b"benchboundary7d1f"
        payload = bytes(range(256)) * 16
        body = (
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + payload + b"\r\n--" + boundary + b"--\r\n"
        )
        put_headers = [
            (b"host", b"127.0.0.1"),
            (b"cookie", cookie),
            (b"content-type", b"multipart/form-data; boundary=" + boundary),
            (b"content-length", str(len(body)).encode()),
        ]
        get_headers = [(b"host", b"127.0.0.1"), (b"cookie", cookie)]
        for i in range(50):  # warm-up: caches, compiled statements
            await drv.request("PUT", f"/2.0/files/small/w{i}", put_headers, body)
        if instr is not None:
            uploads, downloads = instr
            _commit_clock()
            await drv.request("GET", "/2.0/files/small/w0", get_headers)  # a first read, compiled
            for kind, n in (("PUT", uploads), ("GET", downloads)):
                headers, content, want = (put_headers, body, 201) if kind == "PUT" else (get_headers, b"", 200)
                for first in range(0, n, CONCURRENCY):
                    statuses = await asyncio.gather(*(
                        drv.request(kind, f"/2.0/files/small/f{i}", headers, content)
                        for i in range(first, min(n, first + CONCURRENCY))
                    ))  # fmt: skip
                    assert all(s == want for s in statuses), statuses
            return
        if calls:
            await drv.request("GET", "/2.0/files/small/w0", get_headers)  # a first read, compiled
            await drv.request("PUT", "/2.0/files/small/c1", put_headers, body)
            for method, path, headers, content in (
                ("PUT", "/2.0/files/small/c2", put_headers, body),
                ("GET", "/2.0/files/small/c1", get_headers, b""),
            ):
                seen: list[str] = []
                sys.setprofile(_count_calls(seen))
                try:
                    await drv.request(method, path, headers, content)
                finally:
                    sys.setprofile(None)
                in_c = sum(1 for call in seen if call.startswith("C "))
                kind = "upload" if method == "PUT" else "download"
                print(f"{kind}: {len(seen) - in_c} Python function calls, {in_c} C function calls")
                if calls > 1:
                    print("\n".join(seen))
            return
        results: dict[str, tuple[float, dict[str, float]]] = {}
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        for kind in ("upload", "download"):
            TOTALS.clear()
            start = time.thread_time()
            for i in range(count):
                path = f"/2.0/files/small/f{i}"
                if kind == "upload":
                    status = await drv.request("PUT", path, put_headers, body)
                    assert status == 201, status
                else:
                    status = await drv.request("GET", path, get_headers)
                    assert status == 200, status
            results[kind] = (time.thread_time() - start, dict(TOTALS))
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(profile)
            return
    print(f"wrapped: {len(wrapped)} functions; {count} requests each, sequential, in-process\n")
    print("| stage | upload µs | download µs |")
    print("|---|---:|---:|")
    stages = list(STAGES)
    for stage in stages:
        up = results["upload"][1].get(stage, 0.0) / count * 1e6
        down = results["download"][1].get(stage, 0.0) / count * 1e6
        print(f"| {stage} | {up:.1f} | {down:.1f} |")
    rest = [(results[k][0] - sum(results[k][1].values())) / count * 1e6 for k in ("upload", "download")]
    print(f"| rest: routing, middleware, request/response objects | {rest[0]:.1f} | {rest[1]:.1f} |")
    total = [results[k][0] / count * 1e6 for k in ("upload", "download")]
    print(f"| **app total (loop thread CPU, one at a time)** | **{total[0]:.1f}** | **{total[1]:.1f}** |")


CONCURRENCY = 16  # requests in flight at once, as bench/ab.py's connections: commits are shared as there
_BASE_UPLOADS = 32
_COLLECTED = re.compile(r"Collected : (\d+)")


def _commit_clock() -> None:
    """The catalog's checkpoint clock, counted in group commits instead of seconds (a
    checkpoint every 100 commits). Under valgrind a request takes ~50 times as long, so the WAL
    checkpoints, which run every so many seconds, would come with how fast the host runs the
    emulator: the one part of a run whose instructions moved with the host's load."""
    import types

    from gateway.catalog import db

    ticks = itertools.count()
    step = db._CHECKPOINT_SECONDS / 100
    db.time = types.SimpleNamespace(time_ns=time.time_ns, monotonic=lambda: next(ticks) * step)  # type: ignore[attr-defined]


def _collected(uploads: int, downloads: int, tree: Path | None) -> int:
    """Instructions of one whole run (start, login, warm-up, then the requests) under callgrind."""
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, str(HERE / "stages.py")]
    cmd += ["--instr-run", f"{uploads},{downloads}"] + (["--tree", str(tree)] if tree else [])
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode or found is None:
        raise RuntimeError(f"valgrind run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return int(found.group(1))


def instructions(count: int, tree: Path | None) -> None:
    """Instructions per upload and per download, by difference: three runs that differ only in
    ``count`` more uploads, then ``count`` more downloads, so start-up, login and warm-up cancel."""
    base = _collected(_BASE_UPLOADS, 0, tree)
    uploaded = _collected(_BASE_UPLOADS + count, 0, tree)
    downloaded = _collected(_BASE_UPLOADS + count, count, tree)
    up, down = (uploaded - base) / count, (downloaded - uploaded) / count
    print(f"instructions per request ({count} each, {CONCURRENCY} at a time, in-process, all threads):")
    print(f"upload {up:,.0f}\ndownload {down:,.0f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--tree", type=Path, help="import the gateway from this source tree")
    p.add_argument("--profile", type=int, default=0, help="print cProfile's top N functions instead")
    p.add_argument("--calls", action="store_true", help="count the calls of one upload and one download instead")
    p.add_argument("--calls-list", action="store_true", help="with --calls: print every call, in order")
    p.add_argument("--instructions", action="store_true", help="count the instructions per request (callgrind)")
    p.add_argument("--instr-run", help=argparse.SUPPRESS)  # "U,D": one measured run, under valgrind
    args = p.parse_args()
    if args.tree:
        sys.path.insert(0, str(args.tree.resolve()))
    import gateway

    print(f"gateway from {Path(gateway.__file__).parent}", file=sys.stderr)
    (HERE / "work").mkdir(exist_ok=True)
    if args.instructions:
        instructions(args.count, args.tree)
        return
    if args.instr_run:
        import uvloop  # the served process's loop (gateway/serve.py): asyncio's own runs more Python per request

        uploads, downloads = (int(n) for n in args.instr_run.split(","))
        uvloop.run(run(0, 0, 0, (uploads, downloads)))
        return
    asyncio.run(run(args.count, args.profile, 2 if args.calls_list else 1 if args.calls else 0))


if __name__ == "__main__":
    main()
