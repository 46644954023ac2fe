#!/usr/bin/env python3
"""Performance benchmark: the gateway against nginx (WebDAV) and ``rclone serve webdav``, same machine, same run.

    bash bench/setup.sh && .venv/bin/python bench/run.py [--quick] [--repeat N] [--huge] [--only W] [--keep]

Starts nginx, rclone and three gateways (storage ``durable: true`` and ``durable: false`` under
uvicorn, and ``durable: false`` under granian) side by side on loopback ports with fresh data
under ``bench/work/<timestamp>/``, runs the workloads (each repeated ``--repeat`` times, servers
in rotating order), verifies every transfer by SHA-256 outside the timed window, and writes a
Markdown report to ``bench/results/`` (see README.md).
Benchmarks are never part of the test suite.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import platform
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
import servers
from servers import Server

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
MiB = 1 << 20
GiB = 1 << 30
RSS_LIMIT_MIB = 100
SORT_KEYS = ("name", "size", "put_date", "read_date", "expiry_date")
WORKLOADS = ("upload-big", "download-big", "upload-small", "download-small", "listing", "rss-100m", "huge")
CORES = len(os.sched_getaffinity(0))
# name -> (durable, http_server, workers): the third one is the second one under granian instead
# of uvicorn, the fourth the second one with a worker process per core (small files only).
GATEWAY_SETUPS = {
    "gateway-durable": (True, "uvicorn", 1),
    "gateway-relaxed": (False, "uvicorn", 1),
    "gateway-granian": (False, "granian", 1),
    "gateway-workers": (False, "uvicorn", CORES),
}
GATEWAYS = tuple(GATEWAY_SETUPS)
ONE_PROCESS = tuple(name for name, setup in GATEWAY_SETUPS.items() if setup[2] == 1)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fmt_size(n: int) -> str:
    return f"{n // GiB} GiB" if n >= GiB and n % GiB == 0 else f"{n // MiB} MiB"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 * MiB):
            h.update(chunk)
    return h.hexdigest()


def rotate(items: list[str], k: int) -> list[str]:
    k %= len(items)
    return items[k:] + items[:k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Sizes:
    big: int
    small_count: int
    small_size: int
    list_gateway: int
    list_nginx: int
    mid: int
    huge: int

    @property
    def deep_start(self) -> int:
        return self.list_gateway // 2


FULL = Sizes(
    big=GiB, small_count=2000, small_size=4096, list_gateway=100_000, list_nginx=10_000, mid=100 * MiB, huge=10 * GiB
)
QUICK = Sizes(
    big=64 * MiB, small_count=200, small_size=4096, list_gateway=10_000, list_nginx=10_000, mid=100 * MiB, huge=GiB
)


@dataclass
class Measure:
    unit: str  # "MB/s" | "req/s" | "ms"
    values: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)  # server CPU seconds per repetition
    client_cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)  # seconds per repetition
    latency: list[tuple[float, float]] = field(default_factory=list)  # wrk: (p50, p99) ms per repetition
    note: str = ""

    @property
    def median(self) -> float:
        return median(self.values)


@dataclass
class SourceFile:
    path: Path
    size: int
    sha256: str


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sizes = QUICK if args.quick else FULL
        self.repeat: int = args.repeat
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.work = (args.work_root or BENCH / "work") / stamp
        self.work.mkdir(parents=True, exist_ok=False)
        self.servers: dict[str, Server] = {}
        self.sampler: servers.RssSampler | None = None
        self.measures: dict[tuple[str, str], Measure] = {}
        self.rss: dict[str, dict[str, int]] = {}  # workload -> server -> peak KiB
        self.sources: dict[str, SourceFile] = {}
        self.big_remote: dict[str, tuple[str, Path | None]] = {}  # server -> (url path, file on disk)
        self.small_remote: dict[str, tuple[str, Path | None]] = {}  # server -> (path prefix, folder on disk)
        self.list_rows: list[dict[str, Any]] = []
        self.profiles: list[str] = []
        self.notes: list[str] = []
        self.loadavg_start = os.getloadavg()
        self.counter = 0
        self.wrk_log = self.work / "wrk.log"
        self.current = "start"  # the workload running (RSS peaks are filed under it)

    # --- helpers --------------------------------------------------------------------------------

    def fresh_dir(self, label: str) -> Path:
        """A new directory for one timed phase: nothing is ever deleted between phases."""
        self.counter += 1
        d = self.work / "phases" / f"{self.counter:04d}-{label}"
        d.mkdir(parents=True)
        return d

    def warm(self, size: int) -> None:
        """Write (and drop) ``size`` bytes so the next timed write lands in recently touched RAM."""
        path = self.fresh_dir("warm") / "warm.bin"
        chunk = b"\0" * (8 * MiB)
        with path.open("wb", buffering=0) as f:
            left = size
            while left > 0:
                left -= f.write(chunk[: min(left, len(chunk))])
        path.unlink()

    def quiesce(self) -> None:
        """Flush earlier phases' dirty pages, so their writeback does not land in this phase."""
        os.sync()
        time.sleep(0.2)

    def measure(self, workload: str, target: str, unit: str) -> Measure:
        return self.measures.setdefault((workload, target), Measure(unit))

    def peak(self, workload: str, peaks: dict[str, int]) -> None:
        slot = self.rss.setdefault(workload, {})
        for name, kib in peaks.items():
            slot[name] = max(slot.get(name, 0), kib)

    @contextlib.contextmanager
    def phase(self, workload: str, target: str) -> Iterator[dict[str, float]]:
        """RSS window and server CPU for one timed block; yields a dict that gets ``cpu``.

        The RSS peaks count for the workload being run (``self.current``), whatever ``workload``
        its measurement is filed under.
        """
        assert self.sampler is not None
        server = self.servers.get(target)
        info: dict[str, float] = {}
        cpu0 = server.cpu_seconds() if server else 0.0
        with self.sampler.window() as peaks:
            yield info
        info["cpu"] = (server.cpu_seconds() - cpu0) if server else float("nan")
        self.peak(self.current, peaks)

    def restart_gateways(self) -> None:
        """A fresh gateway process (same config, catalog and storage) so each workload has its own peak RSS."""
        for name in GATEWAYS:
            gw = self.servers[name]
            gw.stop()
            gw.port, gw.pids = 0, []
            servers.start_gateway(gw)

    def run_workload(self, workload: str, first: bool) -> None:
        if not first:
            self.restart_gateways()
        self.current = workload
        log(f"== {workload}")
        getattr(self, "w_" + workload.replace("-", "_"))()
        # VmHWM of a process started for this workload: its true peak (the sampler may miss a spike)
        slot = self.rss.setdefault(workload, {})
        for name in GATEWAYS:
            slot[name] = max(slot.get(name, 0), self.servers[name].hwm_kib())

    def source(self, label: str, size: int) -> SourceFile:
        """A random source file (made once per run; 64 MiB random blocks, each chunk numbered)."""
        if label in self.sources:
            return self.sources[label]
        path = self.work / "src" / f"{label}.bin"
        path.parent.mkdir(exist_ok=True)
        log(f"writing source {path.name} ({fmt_size(size)})")
        block = bytearray(os.urandom(64 * MiB))
        h = hashlib.sha256()
        with path.open("wb") as f:
            left, n = size, 0
            while left > 0:
                block[:16] = f"{n:016d}".encode()
                piece = memoryview(block)[: min(left, len(block))]
                f.write(piece)
                h.update(piece)
                left -= len(piece)
                n += 1
        src = SourceFile(path, size, h.hexdigest())
        self.sources[label] = src
        return src

    def client(self, server: Server) -> httpx.Client:
        headers = {"Cookie": server.cookie} if server.cookie else {}
        return httpx.Client(base_url=server.url, headers=headers, timeout=600)

    def mkcol(self, server: Server, folder: str) -> None:
        with self.client(server) as c:
            r = c.request("MKCOL", folder.rstrip("/") + "/")
            if r.status_code not in (201, 405):  # 405: exists
                raise RuntimeError(f"MKCOL {folder} on {server.name}: {r.status_code} {r.text[:200]}")

    def gateway_etag(self, server: Server, path: str) -> str:
        with self.client(server) as c:
            r = c.head(path)
            if r.status_code != 200:
                raise RuntimeError(f"HEAD {path} on {server.name}: {r.status_code}")
            return str(r.headers.get("etag", "")).strip('"')

    def download_sha(self, server: Server, path: str) -> tuple[str, int]:
        h, n = hashlib.sha256(), 0
        with self.client(server) as c, c.stream("GET", path) as r:
            if r.status_code != 200:
                raise RuntimeError(f"GET {path} on {server.name}: {r.status_code}")
            for chunk in r.iter_raw(4 * MiB):
                h.update(chunk)
                n += len(chunk)
            etag = r.headers.get("etag", "").strip('"')
        digest = h.hexdigest()
        if etag and server.kind == "gateway" and etag != digest:
            raise RuntimeError(f"{server.name} {path}: ETag {etag} but content {digest}")
        return digest, n

    def profiled(self, server: Server, label: str, body: Callable[[], object]) -> None:
        """Run ``body`` once more (untimed) under py-spy and keep the collapsed stacks."""
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(spy).exists():
            self.notes.append("--profile: py-spy not installed (bash bench/setup.sh installs it)")
            return
        out = self.work / f"profile-{label}-{server.name}.txt"
        args = [
            spy,
            "record",
            "--pid",
            str(server.pids[0]),
            "--rate",
            "200",
            "--format",
            "raw",
            "--gil",
            "--nonblocking",
        ]
        proc = subprocess.Popen(
            args + ["-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            time.sleep(0.5)
            body()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        if out.exists():
            self.profiles.append(summarise_profile(out, f"{label} on {server.name}"))

    # --- servers --------------------------------------------------------------------------------

    def start_servers(self, selected: list[str]) -> None:
        from gateway.catalog.passwords import hash_password

        log(f"work dir {self.work}")
        pw_hash = hash_password(servers.BENCH_PASSWORD)
        gws = [
            servers.prepare_gateway(self.work / name, name, durable, http_server, workers, pw_hash)
            for name, (durable, http_server, workers) in GATEWAY_SETUPS.items()
        ]
        if "listing" in selected:
            self.fill_listing_catalogs([gw for gw in gws if gw.name in ONE_PROCESS])
        for gw in gws:
            self.servers[gw.name] = servers.start_gateway(gw)
            self.rss.setdefault("idle, ready (before any login)", {})[gw.name] = gw.rss_ready_kib
            self.rss.setdefault("idle, after one login (argon2id)", {})[gw.name] = gw.rss_login_kib
            log(f"{gw.name} on {gw.url} (pid {gw.pids[0]}, {gw.rss_login_kib / 1024:.1f} MiB after login)")
        self.servers["nginx"] = servers.start_nginx(self.work / "nginx")
        log(f"nginx on {self.servers['nginx'].url}")
        self.servers["rclone"] = servers.start_rclone(self.work / "rclone")
        log(f"rclone on {self.servers['rclone'].url}")
        self.sampler = servers.RssSampler(list(self.servers.values())).start()

    def stop(self) -> None:
        if self.sampler:
            self.sampler.stop()
        servers.stop_all()

    # --- workloads: big transfers -----------------------------------------------------------------

    def put_big(self, target: str, src: SourceFile, tag: str, workload: str) -> tuple[float, dict[str, float]]:
        """One timed upload of ``src`` (or dd); returns (seconds, phase info) and records where it went."""
        if target == "dd":
            dest = self.fresh_dir(f"dd-{tag}") / "dd.bin"
            with self.phase(workload, target) as info:
                t0 = time.perf_counter()
                done = subprocess.run(
                    ["dd", f"if={src.path}", f"of={dest}", "bs=1M", "conv=fdatasync"],
                    capture_output=True,
                    text=True,
                    timeout=3600,
                )
                seconds = time.perf_counter() - t0
            if done.returncode != 0:
                raise RuntimeError(f"dd failed: {done.stderr}")
            return seconds, info
        server = self.servers[target]
        if server.kind == "gateway":
            path = f"/2.0/files/big/{tag}.bin"
            with self.phase(workload, target) as info:
                r = loadgen.curl_put(server.url + path, src.path, cookie=server.cookie, multipart=True)
            if r.status != 201:
                raise RuntimeError(f"upload to {server.name}: {r.status} {r.body[:300]!r}")
            etag = self.gateway_etag(server, path)
            if etag != src.sha256:
                raise RuntimeError(f"{server.name} stored {path} with SHA-256 {etag}, expected {src.sha256}")
            self.big_remote.setdefault(f"{server.name}:{src.size}", (path, None))
        else:
            folder = f"/{tag}"
            self.mkcol(server, folder)
            path = f"{folder}/big.bin"
            with self.phase(workload, target) as info:
                r = loadgen.curl_put(server.url + path, src.path)
            if r.status not in (200, 201, 204):
                raise RuntimeError(f"upload to {server.name}: {r.status} {r.body[:300]!r}")
            on_disk = server.root / "data" / tag / "big.bin"
            got = sha256_file(on_disk)
            if got != src.sha256:
                raise RuntimeError(f"{server.name} stored {on_disk} with SHA-256 {got}, expected {src.sha256}")
            self.big_remote.setdefault(f"{server.name}:{src.size}", (path, on_disk))
        return r.seconds, info

    def w_upload_big(self) -> None:
        src = self.source("big", self.sizes.big)
        targets = ["dd", *ONE_PROCESS, "nginx", "rclone"]
        for rep in range(self.repeat):
            for target in rotate(targets, rep):
                self.warm(src.size)
                self.quiesce()
                seconds, info = self.put_big(target, src, f"upbig-r{rep}-{target}", "upload-big")
                m = self.measure("upload-big", target, "MB/s")
                m.values.append(src.size / seconds / 1e6)
                m.wall.append(seconds)
                m.server_cpu.append(info["cpu"])
                log(f"upload {fmt_size(src.size)} {target:16s} {src.size / seconds / 1e6:8.1f} MB/s")
        if self.args.profile:
            for name in ONE_PROCESS:
                server = self.servers[name]
                self.warm(src.size)
                self.quiesce()
                self.profiled(server, "upload-big", functools.partial(self.put_big, name, src, "prof", "profile"))

    def ensure_big(self, src: SourceFile, names: list[str]) -> None:
        for name in names:
            if f"{name}:{src.size}" not in self.big_remote:
                log(f"uploading {fmt_size(src.size)} to {name} (untimed)")
                self.warm(src.size)
                self.put_big(name, src, f"seed-{name}-{src.size}", "seed")

    def w_download_big(self) -> None:
        src = self.source("big", self.sizes.big)
        targets = [*ONE_PROCESS, "nginx", "rclone"]
        self.ensure_big(src, targets)
        for name in targets:  # verified, untimed; also brings each copy into the page cache
            path, _ = self.big_remote[f"{name}:{src.size}"]
            digest, n = self.download_sha(self.servers[name], path)
            if digest != src.sha256 or n != src.size:
                raise RuntimeError(f"download from {name}: {n} bytes, SHA-256 {digest}, expected {src.sha256}")
        for rep in range(self.repeat):
            for name in rotate(targets, rep):
                server = self.servers[name]
                path, _ = self.big_remote[f"{name}:{src.size}"]
                self.quiesce()
                with self.phase("download-big", name) as info:
                    r = loadgen.curl_get(server.url + path, cookie=server.cookie)
                if r.status != 200 or r.size != src.size:
                    raise RuntimeError(f"download from {name}: {r.status}, {r.size} bytes")
                m = self.measure("download-big", name, "MB/s")
                m.values.append(src.size / r.seconds / 1e6)
                m.wall.append(r.seconds)
                m.server_cpu.append(info["cpu"])
                log(f"download {fmt_size(src.size)} {name:16s} {src.size / r.seconds / 1e6:8.1f} MB/s")
        if self.args.profile:
            for name in ONE_PROCESS:
                server = self.servers[name]
                path, _ = self.big_remote[f"{name}:{src.size}"]
                get = functools.partial(loadgen.curl_get, server.url + path, cookie=server.cookie)
                self.profiled(server, "download-big", get)

    # --- workloads: many small files ------------------------------------------------------------

    def small_payload(self) -> Path:
        path = self.work / "src" / "small.bin"
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(random.Random(7).randbytes(self.sizes.small_size))
        return path

    def put_small(self, name: str, tag: str, workload: str) -> tuple[loadgen.WrkResult, dict[str, float]]:
        server = self.servers[name]
        payload = self.small_payload()
        count = self.sizes.small_count
        if server.kind == "gateway":
            prefix, folder = f"/2.0/files/small/{tag}-", None
        else:
            self.mkcol(server, f"/{tag}")
            prefix, folder = f"/{tag}/", server.root / "data" / tag
        self.quiesce()
        with self.phase(workload, name) as info:
            res = loadgen.run_wrk(
                server.url + "/",
                "put",
                count,
                prefix,
                payload,
                cookie=server.cookie,
                multipart=server.kind == "gateway",
                log=self.wrk_log,
            )
        if res.ok != count or res.bad:
            raise RuntimeError(f"small uploads to {name}: {res.ok} ok, {res.bad} failed ({res.raw})")
        self.verify_small(server, prefix, folder, payload.read_bytes(), check_count=True)
        self.small_remote.setdefault(name, (prefix, folder))
        return res, info

    def verify_small(self, server: Server, prefix: str, folder: Path | None, base: bytes, check_count: bool) -> None:
        """Every file on disk (nginx, rclone) or 100 random files plus the count (gateway), by SHA-256."""
        count = self.sizes.small_count
        if folder is not None:
            for i in range(count):
                want = hashlib.sha256(loadgen.small_content(base, i)).hexdigest()
                got = sha256_file(folder / loadgen.small_name(i))
                if got != want:
                    raise RuntimeError(f"{server.name}: {folder}/{loadgen.small_name(i)} has SHA-256 {got}")
            return
        with self.client(server) as c:
            if check_count:
                tag = prefix.rsplit("/", 1)[1]
                r = c.get("/2.0/countelements/small", params={"filter": f"{tag}*", "type": "files"})
                if r.status_code != 200 or int(r.text) != count:
                    raise RuntimeError(f"{server.name}: countelements {tag}* = {r.status_code} {r.text}")
            for i in random.Random(count).sample(range(count), min(100, count)):
                r = c.get(prefix + loadgen.small_name(i))
                want = hashlib.sha256(loadgen.small_content(base, i)).hexdigest()
                got = hashlib.sha256(r.content).hexdigest()
                if r.status_code != 200 or got != want or r.headers.get("etag", "").strip('"') != want:
                    raise RuntimeError(f"{server.name}: {prefix}{loadgen.small_name(i)}: {r.status_code} {got}")

    def record_wrk(self, workload: str, name: str, res: loadgen.WrkResult, info: dict[str, float]) -> None:
        m = self.measure(workload, name, "req/s")
        m.values.append(res.rate)
        m.wall.append(res.seconds)
        m.server_cpu.append(info["cpu"])
        m.client_cpu.append(res.client_cpu)
        m.latency.append((res.latency_p50_ms, res.latency_p99_ms))
        log(
            f"{workload} {name:16s} {res.rate:9.0f} req/s  (p50 {res.latency_p50_ms:.1f} ms, p99 "
            f"{res.latency_p99_ms:.1f} ms, server CPU {info['cpu']:.2f} s, client CPU {res.client_cpu:.2f} s "
            f"in {res.seconds:.2f} s)"
        )

    def w_upload_small(self) -> None:
        targets = [*GATEWAYS, "nginx", "rclone"]
        for rep in range(self.repeat):
            for name in rotate(targets, rep):
                res, info = self.put_small(name, f"ups-r{rep}-{name}", "upload-small")
                self.record_wrk("upload-small", name, res, info)
        if self.args.profile:
            for name in ONE_PROCESS:
                put = functools.partial(self.put_small, name, f"prof-{name}", "profile")
                self.profiled(self.servers[name], "upload-small", put)

    def get_small(self, name: str, workload: str) -> tuple[loadgen.WrkResult, dict[str, float]]:
        server = self.servers[name]
        prefix, _ = self.small_remote[name]
        count = self.sizes.small_count
        self.quiesce()
        with self.phase(workload, name) as info:
            res = loadgen.run_wrk(
                server.url + "/", "get", count, prefix, self.small_payload(), cookie=server.cookie, log=self.wrk_log
            )
        if res.ok != count or res.bad:
            raise RuntimeError(f"small downloads from {name}: {res.ok} ok, {res.bad} failed ({res.raw})")
        return res, info

    def w_download_small(self) -> None:
        targets = [*GATEWAYS, "nginx", "rclone"]
        for name in targets:
            if name not in self.small_remote:
                log(f"uploading {self.sizes.small_count} small files to {name} (untimed)")
                self.put_small(name, f"seed-{name}", "seed")
        for rep in range(self.repeat):
            for name in rotate(targets, rep):
                res, info = self.get_small(name, "download-small")
                self.record_wrk("download-small", name, res, info)
        if self.args.profile:
            for name in ONE_PROCESS:
                self.profiled(self.servers[name], "download-small", functools.partial(self.get_small, name, "profile"))

    # --- workload: listing ----------------------------------------------------------------------

    def fill_listing_catalogs(self, gateways: list[Server]) -> None:
        """Insert the /list rows straight into each gateway's catalog (rows only: listing reads no object)."""
        from sqlalchemy import create_engine, insert

        from gateway.catalog.models import files

        n = self.sizes.list_gateway
        rng = random.Random(1)
        now = time.time_ns() // 1000
        day = 86_400_000_000
        names = [f"file-{i:06d}.dat" for i in range(n)]
        rng.shuffle(names)  # insertion order unrelated to any sort key
        rows = []
        for name in names:
            put = now - rng.randrange(1, 90 * day)
            first_read = None if rng.random() < 0.4 else put + rng.randrange(1, day)
            expiry = None if rng.random() < 0.3 else now + rng.randrange(day, 365 * day)  # never due during the run
            key = uuid.UUID(int=rng.getrandbits(128)).hex
            rows.append(
                {
                    "vfs": servers.BENCH_VFS,
                    "folder": "list",
                    "name": name,
                    "storage": "default",
                    "storage_key": f"objects/{key[:2]}/{key}",
                    "size": rng.randrange(0, 50 * MiB),
                    "sha256": hashlib.sha256(name.encode()).hexdigest(),
                    "datatype": "application/octet-stream",
                    "put_date": put,
                    "creation_time": put,
                    "last_modified_time": put,
                    "first_read_date": first_read,
                    "last_access_time": first_read,
                    "expiry_date": expiry,
                    "actor": servers.BENCH_ACTOR,
                    "uploaded_by": servers.BENCH_USER,
                }
            )
        self.list_rows = rows
        for gw in gateways:
            t0 = time.perf_counter()
            engine = create_engine(f"sqlite:///{gw.root / 'data' / 'catalog.db'}")
            try:
                with engine.begin() as conn:
                    for i in range(0, n, 10_000):
                        conn.execute(insert(files), rows[i : i + 10_000])
            finally:
                engine.dispose()
            log(f"{gw.name}: inserted {n} catalog rows into /list in {time.perf_counter() - t0:.1f} s")
        self.notes.append(
            f"The {n:,}-file gateway folder is filled by inserting catalog rows directly (SQLAlchemy Core, "
            "before the server starts; no storage objects, which listing never reads)."
        )

    def expected_page(self, sort: str, desc: bool, start: int, limit: int) -> list[str]:
        col = {"read_date": "first_read_date", "expiry_date": "expiry_date", "put_date": "put_date", "size": "size"}

        def key(row: dict[str, Any]) -> tuple[Any, ...]:
            if sort == "name":
                return (row["name"].encode(),)
            v = row[col[sort]]
            # NULL dates sort last ascending (first descending); ties by name in the same direction
            return (v is None, v or 0, row["name"].encode())

        ordered = sorted(self.list_rows, key=key, reverse=desc)
        return [r["name"] for r in ordered[start : start + limit]]

    def make_nginx_folder(self) -> Path:
        folder = self.servers["nginx"].root / "data" / "list10k"
        if not folder.exists():
            folder.mkdir()
            rng = random.Random(2)
            for i in range(self.sizes.list_nginx):
                (folder / f"file-{i:06d}.dat").write_bytes(b"x" * rng.randrange(0, 64))
        return folder

    def time_get(self, client: httpx.Client, path: str, params: dict[str, Any] | None = None) -> tuple[float, bytes]:
        t0 = time.perf_counter()
        r = client.get(path, params=params)
        body = r.content
        seconds = time.perf_counter() - t0
        if r.status_code != 200:
            raise RuntimeError(f"GET {path} {params}: {r.status_code} {body[:200]!r}")
        return seconds, body

    def w_listing(self) -> None:
        if not self.list_rows:
            raise RuntimeError("listing needs its catalog rows (inserted before the gateway starts)")
        nginx = self.servers["nginx"]
        gw = self.servers["gateway-durable"]
        self.make_nginx_folder()
        samples = max(self.repeat, 7)
        n = self.sizes.list_gateway
        combos = [(s, d, st) for s in SORT_KEYS for d in ("asc", "desc") for st in (0, self.sizes.deep_start)]
        with self.client(nginx) as nc, self.client(gw) as gc:
            self.time_get(nc, "/list10k/")  # warm
            m_nginx = self.measure("listing", "nginx", "ms")
            m_nginx.note = f"autoindex JSON of {self.sizes.list_nginx:,} files"

            def nginx_sample() -> None:
                # nginx's listing alternates with every gateway request: both see the same moments
                # of a machine whose speed drifts during a run.
                seconds, body = self.time_get(nc, "/list10k/")
                m_nginx.values.append(seconds * 1000)
                if len(json.loads(body)) != self.sizes.list_nginx:
                    raise RuntimeError("nginx listed a different number of entries")

            for sort, direction, start in combos:
                params = {"limit": 500, "sort": sort, "direction": direction, "start": start}
                self.time_get(gc, "/2.0/directories/list", params)  # warm
                label = f"{sort} {direction} start={start}"
                m = self.measure("listing", f"gateway-durable|{label}", "ms")
                with self.phase("listing", gw.name):
                    for _ in range(samples):
                        nginx_sample()
                        seconds, body = self.time_get(gc, "/2.0/directories/list", params)
                        m.values.append(seconds * 1000)
                page = json.loads(body)
                names = [e["name"] for e in page["elements"]]
                want = self.expected_page(sort, direction == "desc", start, 500)
                if page["total"] != n or names != want:
                    raise RuntimeError(f"listing {label}: total {page['total']}, page differs from the expected order")
                log(f"listing gateway {n} files, {label}: {m.median:.1f} ms")
            self.time_get(gc, "/2.0/countelements/list")
            m = self.measure("listing", "gateway-durable|countelements", "ms")
            with self.phase("listing", gw.name):
                for _ in range(samples):
                    nginx_sample()
                    seconds, body = self.time_get(gc, "/2.0/countelements/list")
                    m.values.append(seconds * 1000)
            if int(body) != n:
                raise RuntimeError(f"countelements answered {body!r}, expected {n}")
            log(f"countelements gateway {n} files: {m.median:.1f} ms")
        log(f"listing nginx {self.sizes.list_nginx} files: {m_nginx.median:.1f} ms ({len(m_nginx.values)} requests)")
        if self.args.profile:

            def deep_pages() -> None:
                with self.client(gw) as gc:
                    for sort, direction, start in combos:
                        params = {"limit": 500, "sort": sort, "direction": direction, "start": start}
                        for _ in range(3):
                            self.time_get(gc, "/2.0/directories/list", params)

            self.profiled(gw, "listing", deep_pages)

    # --- workloads: resident set at 100 MiB and 10 GiB ----------------------------------------

    def transfer_rss(self, workload: str, src: SourceFile) -> None:
        for name in ONE_PROCESS:
            server = self.servers[name]
            if workload != "huge":  # no peer to be fair to there, and 10 GiB more to write
                self.warm(src.size)
            self.quiesce()
            seconds, info = self.put_big(name, src, f"{workload}-{name}", f"{workload} upload")
            m = self.measure(f"{workload} upload", name, "MB/s")
            m.values.append(src.size / seconds / 1e6)
            m.server_cpu.append(info["cpu"])
            path, _ = self.big_remote[f"{name}:{src.size}"]
            with self.phase(f"{workload} download", name) as info:
                r = loadgen.curl_get(server.url + path, cookie=server.cookie)
            if r.status != 200 or r.size != src.size:
                raise RuntimeError(f"download from {name}: {r.status}, {r.size} bytes")
            m = self.measure(f"{workload} download", name, "MB/s")
            m.values.append(src.size / r.seconds / 1e6)
            m.server_cpu.append(info["cpu"])
            log(
                f"{workload} {name}: upload {src.size / seconds / 1e6:.0f} MB/s, "
                f"download {src.size / r.seconds / 1e6:.0f} MB/s"
            )

    def w_rss_100m(self) -> None:
        self.transfer_rss("rss-100m", self.source("mid", self.sizes.mid))

    def w_huge(self) -> None:
        src = self.source("huge", self.sizes.huge)
        self.transfer_rss("huge", src)


# --- py-spy profile summary ----------------------------------------------------------------------


def _package(frame: str) -> str:
    """``func (sqlalchemy/sql/base.py:12)`` -> ``sqlalchemy``; the stdlib shows as its module's name."""
    where = frame.rpartition(" (")[2].rstrip(")")
    path = where.rsplit(":", 1)[0]
    return path.split("/", 1)[0] if "/" in path else path.removesuffix(".py")


def summarise_profile(path: Path, title: str, top: int = 12) -> str:
    """Top frames of a py-spy ``--gil --format raw`` profile (collapsed stacks): where the GIL goes."""
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    pkg: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        for frame in set(frames):
            incl[frame] = incl.get(frame, 0) + n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        leaf_pkg = _package(frames[-1])
        pkg[leaf_pkg] = pkg.get(leaf_pkg, 0) + n
    if not total:
        return f"#### {title}\n\n(no samples)\n"
    shares = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in sorted(pkg.items(), key=lambda kv: -kv[1])[:8])
    lines = [
        f"#### {title}",
        "",
        f"{total} samples holding the GIL (raw stacks: `{path.name}`); self time by package: {shares}.",
    ]
    lines += ["", "| self % | frame |", "|---:|---|"]
    for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"| {100 * n / total:.1f} | `{frame}` |")
    lines += ["", "| inclusive % | frame (gateway code) |", "|---:|---|"]
    ours = [(f, n) for f, n in incl.items() if "gateway/" in f and "gateway/cli.py" not in f]
    for frame, n in sorted(ours, key=lambda kv: -kv[1])[:top]:
        lines.append(f"| {100 * n / total:.1f} | `{frame}` |")
    return "\n".join(lines) + "\n"


# --- report --------------------------------------------------------------------------------------


def sh(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (done.stdout + done.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"({exc})"


def fmt_value(v: float, unit: str) -> str:
    if v != v:  # nan
        return "—"
    if unit == "ms":
        return f"{v:.1f} ms"
    if unit == "MiB":
        return f"{v:.1f} MiB"
    return f"{v:,.0f} {unit}" if v >= 100 else f"{v:.1f} {unit}"


@dataclass
class Row:
    workload: str
    gateway: float
    peer: str
    peer_value: float
    unit: str
    target: float | None  # ratio, higher is better; None = reported only
    lower_is_better: bool = False  # times and RSS: the ratio is peer ÷ gateway
    strict: bool = False  # the ratio must exceed the target (listing: *under* nginx's time)
    note: str = ""

    @property
    def ratio(self) -> float:
        if self.lower_is_better:
            return self.peer_value / self.gateway if self.gateway else float("nan")
        return self.gateway / self.peer_value if self.peer_value else float("nan")

    def render(self) -> str:
        ratio = self.ratio
        if self.target is None:
            target, met = "report", "—"
        else:
            target = f"> {self.target:.1f}" if self.strict else f"≥ {self.target:.1f}"
            ok = ratio > self.target if self.strict else ratio >= self.target
            met = "—" if ratio != ratio else ("yes" if ok else "**no**")
        peer = self.peer + (f" ({self.note})" if self.note else "")
        return (
            f"| {self.workload} | {fmt_value(self.gateway, self.unit)} | {peer} | "
            f"{fmt_value(self.peer_value, self.unit)} | {ratio:.2f} | {target} | {met} |"
        )


def build_rows(b: Bench) -> list[Row]:
    s = b.sizes
    rows: list[Row] = []

    def med(workload: str, target: str) -> float:
        m = b.measures.get((workload, target))
        return m.median if m else float("nan")

    Peers = list[tuple[str, str, float | None, str]]

    def variant(workload: str, gateway: str, label: str, unit: str, peers: Peers, versus: str, note: str) -> list[Row]:
        """``gateway`` (gateway-relaxed changed in one respect) against the peers gateway-relaxed is
        held to, then against gateway-relaxed itself, so the last ratio is what the change gives."""
        if (workload, gateway) not in b.measures:
            return []
        value = med(workload, gateway)
        rows = [Row(label, value, peer, med(workload, t), unit, goal, note=n) for t, peer, goal, n in peers]
        return [*rows, Row(label, value, versus, med(workload, "gateway-relaxed"), unit, None, note=note)]

    def granian(workload: str, label: str, unit: str, peers: Peers) -> list[Row]:
        versus = "same gateway under uvicorn"
        return variant(workload, "gateway-granian", label + ", granian", unit, peers, versus, "granian ÷ uvicorn")

    def workers(workload: str, label: str, unit: str, peers: Peers) -> list[Row]:
        n = GATEWAY_SETUPS["gateway-workers"][2]
        return variant(
            workload, "gateway-workers", f"{label}, {n} workers", unit, peers, "same gateway, 1 process", f"{n} ÷ 1"
        )

    big = fmt_size(s.big)
    if ("upload-big", "gateway-durable") in b.measures:
        rows += [
            Row(
                f"upload {big}, durable",
                med("upload-big", "gateway-durable"),
                "dd conv=fdatasync",
                med("upload-big", "dd"),
                "MB/s",
                0.9,
            ),
            Row(
                f"upload {big}, durable: false",
                med("upload-big", "gateway-relaxed"),
                "nginx PUT",
                med("upload-big", "nginx"),
                "MB/s",
                0.6,
            ),
            Row(
                f"upload {big}, durable",
                med("upload-big", "gateway-durable"),
                "nginx PUT",
                med("upload-big", "nginx"),
                "MB/s",
                None,
            ),
            Row(
                f"upload {big}, durable",
                med("upload-big", "gateway-durable"),
                "gateway, durable: false",
                med("upload-big", "gateway-relaxed"),
                "MB/s",
                None,
                note="cost of fsync",
            ),
            Row(
                f"upload {big}, durable: false",
                med("upload-big", "gateway-relaxed"),
                "rclone PUT",
                med("upload-big", "rclone"),
                "MB/s",
                None,
            ),
        ]
        peers = [("nginx", "nginx PUT", 0.6, ""), ("rclone", "rclone PUT", None, "")]
        rows += granian("upload-big", f"upload {big}, durable: false", "MB/s", peers)
    if ("download-big", "gateway-durable") in b.measures:
        for name, label in (("gateway-durable", "durable"), ("gateway-relaxed", "durable: false")):
            rows.append(
                Row(
                    f"download {big} ({label} storage)",
                    med("download-big", name),
                    "nginx GET",
                    med("download-big", "nginx"),
                    "MB/s",
                    0.9,
                )
            )
        rows.append(
            Row(
                f"download {big} (durable storage)",
                med("download-big", "gateway-durable"),
                "rclone GET",
                med("download-big", "rclone"),
                "MB/s",
                None,
            )
        )
        peers = [("nginx", "nginx GET", 0.9, ""), ("rclone", "rclone GET", None, "")]
        rows += granian("download-big", f"download {big} (durable: false storage)", "MB/s", peers)
    n = f"{s.small_count:,} × {s.small_size // 1024} KiB"
    if ("upload-small", "gateway-durable") in b.measures:
        rows += [
            Row(
                f"{n} uploads @16, durable: false",
                med("upload-small", "gateway-relaxed"),
                "rclone",
                med("upload-small", "rclone"),
                "req/s",
                1.0,
            ),
            Row(
                f"{n} uploads @16, durable",
                med("upload-small", "gateway-durable"),
                "rclone",
                med("upload-small", "rclone"),
                "req/s",
                None,
            ),
            Row(
                f"{n} uploads @16, durable",
                med("upload-small", "gateway-durable"),
                "gateway, durable: false",
                med("upload-small", "gateway-relaxed"),
                "req/s",
                None,
                note="cost of fsync",
            ),
            Row(
                f"{n} uploads @16, durable: false",
                med("upload-small", "gateway-relaxed"),
                "nginx",
                med("upload-small", "nginx"),
                "req/s",
                None,
                note="client-bound",
            ),
        ]
        peers = [("rclone", "rclone", 1.0, ""), ("nginx", "nginx", None, "client-bound")]
        rows += granian("upload-small", f"{n} uploads @16, durable: false", "req/s", peers)
        rows += workers("upload-small", f"{n} uploads @16, durable: false", "req/s", peers)
    if ("download-small", "gateway-durable") in b.measures:
        for name, label in (("gateway-durable", "durable"), ("gateway-relaxed", "durable: false")):
            rows.append(
                Row(
                    f"{n} downloads @16 ({label} storage)",
                    med("download-small", name),
                    "rclone",
                    med("download-small", "rclone"),
                    "req/s",
                    1.0,
                )
            )
        rows.append(
            Row(
                f"{n} downloads @16 (durable storage)",
                med("download-small", "gateway-durable"),
                "nginx",
                med("download-small", "nginx"),
                "req/s",
                None,
                note="client-bound",
            )
        )
        peers = [("rclone", "rclone", 1.0, ""), ("nginx", "nginx", None, "client-bound")]
        rows += granian("download-small", f"{n} downloads @16 (durable: false storage)", "req/s", peers)
        rows += workers("download-small", f"{n} downloads @16 (durable: false storage)", "req/s", peers)
    if ("listing", "nginx") in b.measures:
        nginx_ms = med("listing", "nginx")
        peer = f"nginx autoindex, {s.list_nginx:,} files"
        for (workload, target), m in b.measures.items():
            if workload == "listing" and target.startswith("gateway-durable|"):
                what = target.split("|", 1)[1]
                label = (
                    f"countelements, {s.list_gateway:,} files"
                    if what == "countelements"
                    else f"directories limit=500 {what}, {s.list_gateway:,} files"
                )
                rows.append(Row(label, m.median, peer, nginx_ms, "ms", 1.0, lower_is_better=True, strict=True))
    peaks = [kib for per in b.rss.values() for name, kib in per.items() if name in ONE_PROCESS]
    if peaks:
        peak = max(peaks) / 1024
        rows.append(
            Row("peak RSS of the gateway, any workload", peak, "limit", RSS_LIMIT_MIB, "MiB", 1.0, lower_is_better=True)
        )
    return rows


def core_speeds() -> str:
    """Single-core SHA-256 and memory-copy rates, measured now: a one-pass upload cannot hash
    faster than the first, and both vary between hosts (and over time on a shared one) far more
    than the ratios do."""
    data = bytes(64 * MiB)
    hashlib.sha256(data[: 4 * MiB]).digest()  # warm up
    start = time.perf_counter()
    hashlib.sha256(data).digest()
    sha = 64 / (time.perf_counter() - start) * MiB / 1e6
    target = bytearray(len(data))
    start = time.perf_counter()
    target[:] = data
    copy = 64 / (time.perf_counter() - start) * MiB / 1e6
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "unknown CPU")
    return f"{model}; one core: SHA-256 {sha:,.0f} MB/s, memory copy {copy:,.0f} MB/s"


def render_report(b: Bench, rows: list[Row], elapsed: float, command: str, status: str) -> str:
    s = b.sizes
    mode = "quick (small sizes: a sanity run, not the issue's targets)" if b.args.quick else "full"
    sha = sh(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = " (working tree has uncommitted changes)" if sh(["git", "-C", str(REPO), "status", "--porcelain"]) else ""
    dd = b.measures.get(("upload-big", "dd"))
    dd_text = f"{dd.median:.0f} MB/s (median of {len(dd.values)}, {fmt_size(s.big)})" if dd else "(not run: --only)"
    fs = sh(["df", "-hT", str(b.work)]).splitlines()[-1]
    mount = next((ln for ln in Path("/proc/mounts").read_text().splitlines() if f" {mount_point(b.work)} " in ln), "")
    out = [
        f"# Benchmark: gateway vs nginx and rclone — {dt.datetime.now():%Y-%m-%d %H:%M} — {sha}{dirty}",
        "",
        f"Status: **{status}**. Mode: {mode}; repetitions: {b.repeat} (medians); wall time {elapsed / 60:.1f} min.",
        "",
        "```",
        f"$ {command}",
        "```",
        "",
        "## Machine",
        "",
        f"- nproc: {os.cpu_count()}; kernel: {platform.release()}; Python {platform.python_version()}",
        f"- load average at start {fmt_load(b.loadavg_start)}, at end {fmt_load(os.getloadavg())} "
        "(other processes share the machine: compare ratios, not absolute values)",
        f"- work dir filesystem: `{fs}`; mount: `{mount}`",
        f"- `dd if=src of=new bs=1M conv=fdatasync` in this run: **{dd_text}**",
        f"- CPU, at the end of this run: {core_speeds()} (every gateway upload hashes its bytes with "
        "SHA-256 in one pass: on this host that rate caps the gateway's upload throughput)",
        f"- peers: {sh(['nginx', '-v']).splitlines()[0]}; {sh(['rclone', 'version']).splitlines()[0]}; "
        f"client: {sh(['wrk', '-v']).splitlines()[0].split(' Copyright')[0]}, "
        f"{sh(['curl', '--version']).splitlines()[0].split(' (')[0]}",
        "",
        "```",
        "$ free -g",
        sh(["free", "-g"]),
        "```",
        "",
        "## Results",
        "",
        "Ratio = gateway ÷ peer for throughputs; for times (listing) and RSS it is peer ÷ gateway, "
        "so above 1 is always better for the gateway.",
        "",
        "| workload | gateway | peer | peer value | ratio | target | met? |",
        "|---|---:|---|---:|---:|---|---|",
        *[r.render() for r in rows],
        "",
    ]
    out += [
        "## Peak RSS per workload (MiB)",
        "",
        "Each workload runs on freshly started gateway processes (same config, catalog and storage; one "
        "login each): a gateway's value is the larger of its VmHWM at the end of the workload and VmRSS "
        "sampled every 50 ms during the timed phases; nginx (master + workers) and rclone are sampled only.",
        "",
    ]
    names = [*GATEWAYS, "nginx", "rclone"]
    out += [
        "| workload | " + " | ".join(names) + f" | gateway ≤ {RSS_LIMIT_MIB} MiB? |",
        "|---|" + "---:|" * len(names) + "---|",
    ]
    for workload, per in b.rss.items():
        if workload in ("seed", "profile", "start"):
            continue
        cells = [f"{per[n] / 1024:.1f}" if n in per else "" for n in names]
        gw = [per[n] for n in ONE_PROCESS if n in per]
        ok = "—" if not gw else ("yes" if max(gw) / 1024 <= RSS_LIMIT_MIB else "**no**")
        out.append(f"| {workload} | " + " | ".join(cells) + f" | {ok} |")
    out += ["", "## All measurements", ""]
    out += [
        "| workload | server | median | all repetitions | server CPU s (median) | client CPU s (median) "
        "| latency p50 / p99 ms (median) |"
    ]
    out += ["|---|---|---:|---|---:|---:|---:|"]
    for (workload, target), m in b.measures.items():
        shown = [fmt_value(v, m.unit).split(" ")[0] for v in m.values]
        if len(shown) > 12:  # nginx's listing, sampled beside every gateway request
            low, high = (fmt_value(v, m.unit).split(" ")[0] for v in (min(m.values), max(m.values)))
            shown = [f"{len(shown)} requests, {low} to {high}"]
        reps = ", ".join(shown)
        cpu = f"{median(m.server_cpu):.2f}" if m.server_cpu and m.server_cpu[0] == m.server_cpu[0] else ""
        ccpu = f"{median(m.client_cpu):.2f}" if m.client_cpu else ""
        lat = ""
        if m.latency:
            lat = f"{median([p for p, _ in m.latency]):.1f} / {median([q for _, q in m.latency]):.1f}"
        out.append(f"| {workload} | {target} | {fmt_value(m.median, m.unit)} | {reps} | {cpu} | {ccpu} | {lat} |")
    out += ["", "## Notes", ""]
    out += [
        f"- Sizes: big file {fmt_size(s.big)}, {s.small_count:,} small files of {s.small_size} B at 16 connections "
        f"(wrk, 2 threads), gateway listing folder {s.list_gateway:,} files (deep page start={s.deep_start:,}), "
        f"nginx listing folder {s.list_nginx:,} files.",
        "- Every timed write goes to a fresh directory; nothing is deleted between timed phases; each big write "
        "is preceded by an equal-sized warm-up write (dropped) and a `sync`.",
        "- Big transfers: curl (`-F file=@…` for the gateway, `-T` for WebDAV, `-o /dev/null` for downloads), "
        "timed by curl. Small files: wrk with `bench/wrk_small.lua`, exactly N requests, timed from the first "
        "request to the last response.",
        "- Verification (outside the timed window): big uploads by the gateway's ETag (its SHA-256) or the "
        "SHA-256 of the file on disk (nginx, rclone); big downloads by hashing one full download per server; "
        "small uploads by hashing every file on disk (nginx, rclone) or `countelements` plus 100 random "
        "downloads checked against SHA-256 and ETag (gateway); small downloads by status, length and the "
        "file number in each body; listing pages against the expected order computed from the inserted rows.",
        "- nginx is client-bound on the small-file workloads: wrk (2 threads on this 2-core machine, sharing "
        "the CPUs with the server) is the limit there (see client CPU above), so its rate is a floor, not "
        "nginx's capacity (the issue quotes ≥ 38,500 req/s, client-bound).",
        "- The gateway runs with login (session cookie on every request), ACL on, the SQLite catalog and "
        "events (one event row per upload and download).",
        f"- `gateway-workers` is `gateway-relaxed` with `server.workers: {GATEWAY_SETUPS['gateway-workers'][2]}` "
        "(a supervisor and one worker process per core, all on one SQLite catalog); it runs the small-file "
        "workloads only. Its RSS is the sum of its processes; the resident-set limit is checked on the "
        "one-process gateways, where it is a per-process figure.",
    ]
    out += [f"- {n}" for n in b.notes]
    if b.profiles:
        out += ["", "## Profiles (py-spy --gil, one extra untimed repetition per gateway)", ""] + b.profiles
    return "\n".join(out) + "\n"


def fmt_load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


def mount_point(path: Path) -> str:
    path = path.resolve()
    while not os.path.ismount(path):
        path = path.parent
    return str(path)


def write_report(text: str, quick: bool, only: list[str] | None) -> Path:
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    sha = sh(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]) or "nogit"
    suffix = ("-quick" if quick else "") + ("-only-" + "-".join(only) if only else "")
    path = results / f"{dt.date.today():%Y-%m-%d}-{sha}{suffix}.md"
    path.write_text(text, encoding="utf-8")
    (results / "latest.md").write_text(text, encoding="utf-8")
    return path


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes (64 MiB, 200 small files, 10,000-file folder)")
    p.add_argument("--repeat", type=int, default=3, help="repetitions of each workload (medians are reported)")
    p.add_argument("--huge", action="store_true", help="also transfer 10 GiB to each gateway (RSS check)")
    p.add_argument("--only", action="append", choices=WORKLOADS, help="run only this workload (repeatable)")
    p.add_argument("--keep", action="store_true", help="keep bench/work/<timestamp>/ (always kept on failure)")
    p.add_argument("--profile", action="store_true", help="py-spy the gateways in one extra untimed repetition")
    p.add_argument("--work-root", type=Path, help="parent of the work dir (default bench/work)")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def check_tools() -> None:
    missing = [t for t in ("nginx", "rclone", "wrk", "curl", "dd") if shutil.which(t) is None]
    if missing:
        sys.exit(f"missing: {', '.join(missing)} -- run: bash bench/setup.sh")
    if "with-http_dav_module" not in sh(["nginx", "-V"]):
        sys.exit("this nginx lacks the DAV module -- run: bash bench/setup.sh")
    if not servers.gateway_bin().exists():
        sys.exit(f"{servers.gateway_bin()} not found: run with the project venv's python")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_tools()
    selected = list(args.only) if args.only else [w for w in WORKLOADS if w != "huge" or args.huge]
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    atexit.register(servers.stop_all)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
    b = Bench(args)
    started = time.monotonic()
    status = "complete"
    failed = False
    try:
        b.start_servers(selected)
        for i, workload in enumerate(w for w in WORKLOADS if w in selected):
            b.run_workload(workload, first=i == 0)
    except BaseException as exc:
        failed = True
        status = f"FAILED: {type(exc).__name__}: {exc}".splitlines()[0][:300]
        log(status)
        if not isinstance(exc, Exception):
            raise
        import traceback

        traceback.print_exc()
    finally:
        b.stop()
        rows = build_rows(b)
        report = render_report(b, rows, time.monotonic() - started, command, status)
        path = write_report(report, args.quick, args.only)
        print(report)
        log(f"report: {path.relative_to(REPO)} (and bench/results/latest.md)")
        if failed or args.keep:
            log(f"work dir kept: {b.work}")
        else:
            shutil.rmtree(b.work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
