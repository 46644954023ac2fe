"""The servers the benchmark starts side by side: nginx (WebDAV), ``rclone serve webdav`` and the gateway.

Each runs in its own process group on a loopback port, with its data under the run's work dir.
Every process started here is registered and stopped (SIGTERM to the group, then SIGKILL) by
:func:`stop_all`, which ``run.py`` calls in ``finally`` and ``atexit``. :class:`RssSampler` reads
each server's resident set every 50 ms so every workload gets its own peak.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

LOOPBACK = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
_RUNNING: list[Server] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (nginx's workers)."""
    kids = _children()
    out: list[int] = []
    todo = [pid]
    while todo and len(out) < 10_000:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


@dataclass
class Server:
    """One server process (group) on ``http://127.0.0.1:port``."""

    name: str
    kind: str  # gateway | nginx | rclone
    root: Path  # its own folder under the work dir
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    pids: list[int] = field(default_factory=list)  # the tree, refreshed after start
    cookie: str = ""  # gateway: the session cookie header
    durable: bool | None = None  # gateway only
    rss_ready_kib: int = 0  # gateway: VmRSS once ready, before any request but /ready
    rss_login_kib: int = 0  # gateway: VmRSS after one login (argon2id)
    extra_env: dict[str, str] = field(default_factory=dict)  # gateway: e.g. PYTHONPATH (bench/ab.py)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def launch(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.root,  # not the checkout: `python -m` (a gateway's workers) imports from its cwd first
                start_new_session=True,
            )
        if not any(s is self for s in _RUNNING):
            _RUNNING.append(self)

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.port:
                try:
                    if httpx.get(self.url + path, timeout=2).status_code == 200:
                        time.sleep(0.2)  # let nginx fork its workers before we list the tree
                        self.pids = process_tree(self.process.pid)
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not become ready in {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def rss_kib(self) -> int:
        return sum(_status_kib(p, "VmRSS") for p in self.pids)

    def hwm_kib(self) -> int:
        """Peak resident set over their lifetimes (VmHWM), summed over the processes (a gateway with
        workers: the supervisor and each worker; each may have peaked at a different time)."""
        return sum(_status_kib(p, "VmHWM") for p in self.pids)

    def cpu_seconds(self) -> float:
        return sum(_cpu_ticks(p) for p in self.pids) / CLK_TCK

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the process group, SIGKILL after ``timeout``; then any of its known members left."""
        proc = self.process
        if proc is None:
            return
        members = self.pids
        if proc.poll() is None:
            members = process_tree(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        for pid in members:  # e.g. an nginx worker that outlived its master: only ours, by pid and group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(pid) == proc.pid:
                    os.kill(pid, signal.SIGKILL)


def stop_all() -> None:
    while _RUNNING:
        server = _RUNNING.pop()
        try:
            server.stop()
        except Exception as exc:  # keep stopping the others
            print(f"warning: stopping {server.name}: {exc}", file=sys.stderr)


# --- nginx -------------------------------------------------------------------------------------

NGINX_CONF = """\
# generated by bench/run.py
worker_processes {workers};
daemon off;
master_process on;
user root;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
worker_rlimit_nofile 65536;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_max_body_size 0;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    server {{
        listen {host}:{port};
        root {data};
        location / {{
            dav_methods PUT DELETE MKCOL;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
            autoindex on;
            autoindex_format json;
        }}
    }}
}}
"""


def start_nginx(root: Path, workers: int = 2) -> Server:
    """nginx with WebDAV PUT, sendfile and JSON autoindex, serving ``root/data`` (same filesystem)."""
    server = Server("nginx", "nginx", root, port=free_port())
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(exist_ok=True)
    conf = root / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(workers=workers, root=root, data=data, host=LOOPBACK, port=server.port), encoding="utf-8"
    )
    server.launch(["nginx", "-p", str(root), "-e", str(root / "error.log"), "-c", str(conf)])
    server.wait_ready("/")
    return server


# --- rclone ------------------------------------------------------------------------------------


def start_rclone(root: Path) -> Server:
    """``rclone serve webdav`` (Go, golang.org/x/net/webdav over rclone's VFS) on ``root/data``."""
    server = Server("rclone", "rclone", root, port=free_port())
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    conf = root / "rclone.conf"
    conf.touch()
    args = ["rclone", "serve", "webdav", "--addr", f"{LOOPBACK}:{server.port}", str(data), "--config", str(conf)]
    server.launch(args + ["--log-level", "NOTICE"])
    server.wait_ready("/")
    return server


# --- the gateway -------------------------------------------------------------------------------

BENCH_ACTOR = "BenchPartner"
BENCH_USER = "bench"
BENCH_PASSWORD = "bench-secret"  # loopback only, a throwaway data dir
BENCH_VFS = "bench"
FOLDERS = ("/big", "/small", "/list")


def gateway_config(
    durable: bool, password_hash: str, http_server: str = "uvicorn", workers: int = 1
) -> dict[str, dict[str, Any]]:
    """One partner user with every permission on a VFS with /big, /small and /list (ACL on)."""
    return {
        "gateway.yaml": {
            # "relaxed" relaxes both: storage fsyncs and the catalog's per-commit sync.
            "server": {"catalog_durable": durable, "http_server": http_server, "workers": workers},
            # The load is one user on 16 connections at thousands of requests a second: limits on
            # (so that their cost is measured) but far above it. Dropped for trees without them.
            "rate_limits": {"public": 10**6, "authenticated": 10**8, "transfer": 10**8},
            "storages": {"default": {"type": "local", "root": "storage/default", "durable": durable}},
        },
        "actors.yaml": {
            "actors": {
                BENCH_ACTOR: {
                    "kind": "partner",
                    "groups": ["movers"],
                    "users": {BENCH_USER: {"password_hash": password_hash, "groups": ["movers"]}},
                }
            }
        },
        "vfs.yaml": {
            "vfs": {
                BENCH_VFS: {
                    "actor": BENCH_ACTOR,
                    "acl": True,
                    "paths": {p: None for p in FOLDERS},
                    "permissions": [{"group": "movers", "path": "/", "allow": ["all"]}],
                }
            }
        },
        "contracts.yaml": {
            "contracts": [{"name": "bench", "actor": BENCH_ACTOR, "protocols": ["http"], "vfs": BENCH_VFS}]
        },
    }


def gateway_bin() -> Path:
    return Path(sys.executable).with_name("mft-gateway")


def prepare_gateway(
    root: Path,
    name: str,
    durable: bool,
    http_server: str,
    workers: int,
    password_hash: str,
    extra_env: dict[str, str] | None = None,
) -> Server:
    """Write the config and create the (empty) catalog; the server starts in :func:`start_gateway`.

    ``http_server`` and ``workers`` go into gateway.yaml (``server.http_server``, ``server.workers``),
    as an operator would set them.
    """
    server = Server(name, "gateway", root, durable=durable, extra_env=dict(extra_env or {}))
    config = root / "config"
    config.mkdir(parents=True, exist_ok=True)
    docs = gateway_config(durable, password_hash, http_server, workers)
    for fname, doc in docs.items():
        (config / fname).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    data = root / "data"
    data.mkdir(exist_ok=True)

    def check_config() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(gateway_bin()), "check-config", str(config), "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=120,
            env=gateway_env(server.extra_env),
        )

    check = check_config()
    if check.returncode != 0 and "rate_limits: unknown key" in check.stdout + check.stderr:
        # A baseline tree from before rate limits (bench/ab.py --base) has none to configure.
        del docs["gateway.yaml"]["rate_limits"]
        (config / "gateway.yaml").write_text(yaml.safe_dump(docs["gateway.yaml"], sort_keys=False), encoding="utf-8")
        check = check_config()
    if check.returncode != 0:
        raise RuntimeError(f"bench config rejected:\n{check.stdout}{check.stderr}")
    migrate = subprocess.run(
        [str(gateway_bin()), "migrate", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        env=gateway_env(server.extra_env),
    )
    if migrate.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{migrate.stdout}{migrate.stderr}")
    return server


def gateway_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without ``GATEWAY_*`` (the bench config alone decides), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(extra or {})
    return env


def start_gateway(server: Server) -> Server:
    port_file = server.root / "port"
    port_file.unlink(missing_ok=True)
    args = [str(gateway_bin()), "serve", "--config", str(server.root / "config"), "--data-dir"]
    args += [str(server.root / "data"), "--host", LOOPBACK, "--port", "0", "--port-file", str(port_file)]
    server.launch(args, env=gateway_env(server.extra_env))
    deadline = time.monotonic() + 60
    while not server.port and time.monotonic() < deadline:
        assert server.process is not None
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        text = port_file.read_text().strip() if port_file.exists() else ""
        if text:
            server.port = int(text)
        else:
            time.sleep(0.05)
    server.wait_ready("/ready")
    time.sleep(0.5)
    server.rss_ready_kib = server.rss_kib()
    with httpx.Client(base_url=server.url, timeout=60) as client:
        r = client.post("/2.0/login/basic", data={"username": BENCH_USER, "password": BENCH_PASSWORD})
        if r.status_code != 200:
            raise RuntimeError(f"login to {server.name} failed: {r.status_code} {r.text}")
        server.cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    server.rss_login_kib = server.rss_kib()
    return server


# --- resident set sampling ---------------------------------------------------------------------


class RssSampler:
    """Reads VmRSS of every server every ``interval`` seconds; :meth:`window` yields the peaks inside it."""

    def __init__(self, servers: list[Server], interval: float = 0.05) -> None:
        self.servers = servers
        self.interval = interval
        self._windows: list[dict[str, int]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _sample(self) -> None:
        values = {s.name: s.rss_kib() for s in self.servers if s.pids}
        with self._lock:
            for window in self._windows:
                for name, kib in values.items():
                    if kib > window.get(name, 0):
                        window[name] = kib

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    @contextlib.contextmanager
    def window(self) -> Iterator[dict[str, int]]:
        """Peak VmRSS (KiB) of each server while the block runs (sampled at entry, every 50 ms, at exit)."""
        peaks: dict[str, int] = {}
        with self._lock:
            self._windows.append(peaks)
        self._sample()
        try:
            yield peaks
        finally:
            self._sample()
            with self._lock:
                self._windows.remove(peaks)
