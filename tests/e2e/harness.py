"""Run the real gateway (``mft-gateway serve``) in a subprocess and talk to it like a partner.

``Gateway`` starts the console script on an ephemeral loopback port with a configuration
written by :func:`write_config`, waits for ``/health``, and stops it with SIGTERM. ``Curl``
drives it with the curl command line exactly as partner scripts do (cookie jar, ``-F``).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trustme
import yaml

from gateway.catalog.passwords import hash_password

SERVE = Path(sys.executable).with_name("mft-gateway")
PASSWORD = "pw-{user}-secret"


@functools.cache
def password_hash(user: str) -> str:
    return hash_password(PASSWORD.format(user=user))


def password(user: str) -> str:
    return PASSWORD.format(user=user)


def _users(*names: str, groups: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    groups = groups or {}
    return {n: {"password_hash": password_hash(n), "groups": groups.get(n, [])} for n in names}


def default_config() -> dict[str, dict[str, Any]]:
    """The test world, file name → YAML document.

    PartnerA's VFS ``pa`` (ACL on): alice (group ops) may do everything; bob (group readers)
    may list and download in /outbox and only list /inbox; carol may only upload to /inbox;
    dave may list and delete in /outbox; eve is disabled. PartnerS's sam has only an https
    contract. AppB's VFS ``app`` has ACL off, a 1 MiB file limit and retention after first get.
    Lonely's nocontract has no contract.
    """
    actors = {
        "PartnerA": {
            "kind": "partner",
            "groups": ["ops", "readers"],
            "users": {
                **_users("alice", "bob", "carol", "dave", groups={"alice": ["ops"], "bob": ["readers"]}),
                "eve": {"password_hash": password_hash("eve"), "enabled": False},
            },
        },
        "PartnerS": {"kind": "partner", "users": _users("sam")},
        "AppB": {"kind": "application", "users": _users("appuser")},
        "Lonely": {"kind": "partner", "users": _users("nocontract")},
    }
    vfs = {
        "pa": {
            "actor": "PartnerA",
            "paths": {p: None for p in ("/inbox", "/inbox/archive", "/outbox", "/http_api", "/httpapi", "/deep/a/b")},
            "permissions": [
                {"group": "ops", "path": "/", "allow": ["all"]},
                {"group": "readers", "path": "/outbox", "allow": ["list", "download"]},
                {"group": "readers", "path": "/inbox", "allow": ["list"]},
                {"user": "carol", "path": "/inbox", "allow": ["upload"]},
                {"user": "dave", "path": "/outbox", "allow": ["list", "delete"]},
            ],
        },
        "ps": {"actor": "PartnerS", "acl": False, "paths": {"/in": None}},
        "app": {
            "actor": "AppB",
            "acl": False,
            "paths": {"/in": None, "/out": None},
            "limits": {"max_file_size": "1MiB"},
            "retention": {"after_put_hours": 48, "after_first_get_hours": 2},
        },
    }
    contracts = [
        {"name": "pa", "actor": "PartnerA", "protocols": ["http", "https"], "vfs": "pa"},
        {"name": "ps-secure", "actor": "PartnerS", "protocol": "https", "vfs": "ps"},
        {"name": "app", "actor": "AppB", "protocol": "http", "vfs": "app", "metadata": {"Partner": "AppB"}},
    ]
    return {
        "gateway.yaml": {
            "server": {"trusted_proxies": ["127.0.0.2"]},
            # Every test logs in and transfers from 127.0.0.1, far faster than partners do: limits
            # high enough not to get in the way (tests/e2e/test_abuse_control.py sets its own).
            "rate_limits": {"public": 100_000, "authenticated": 100_000, "transfer": 1_000_000},
            "defender": {"threshold": 100_000, "account_threshold": 100_000},
        },
        "actors.yaml": {"actors": actors},
        "vfs.yaml": {"vfs": vfs},
        "contracts.yaml": {"contracts": contracts},
    }


def write_config(directory: Path, config: Mapping[str, Mapping[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, document in config.items():
        (directory / name).write_text(yaml.safe_dump(dict(document), sort_keys=False))
    return directory


def merged(base: dict[str, dict[str, Any]], **server: Any) -> dict[str, dict[str, Any]]:
    """A copy of ``base`` with ``server:`` keys of gateway.yaml overridden."""
    config = copy.deepcopy(base)
    config.setdefault("gateway.yaml", {}).setdefault("server", {}).update(server)
    return config


@dataclass
class Gateway:
    """One ``mft-gateway serve`` process."""

    root: Path
    database_url: str | None = None
    config: dict[str, dict[str, Any]] = field(default_factory=default_config)
    tls: tuple[Path, Path] | None = None
    env: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    http_server: str | None = None  # --http-server; None: gateway.yaml's server.http_server decides
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> Gateway:
        write_config(self.config_dir, self.config)
        port_file = self.root / "port"
        port_file.unlink(missing_ok=True)
        args = [str(SERVE), "serve", "--config", str(self.config_dir), "--data-dir", str(self.data_dir)]
        args += ["--host", self.host, "--port", "0", "--port-file", str(port_file), "--log-level", "info"]
        if self.database_url:
            args += ["--database-url", self.database_url]
        if self.tls:
            args += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        if self.http_server:
            args += ["--http-server", self.http_server]
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")} | self.env
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}:\n{self.log()}")
            if port_file.exists() and port_file.read_text().strip():
                self.port = int(port_file.read_text())
                try:
                    if httpx.get(f"{self.url}/ready", verify=False, timeout=2).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"gateway did not become ready:\n{self.log()}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as an orchestrator would; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def rss_kib(self) -> int:
        """Current resident set of the server process (VmRSS)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def hwm_kib(self) -> int:
        """Peak resident set so far (VmHWM)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM")

    def storage_files(self) -> list[Path]:
        """Every file under the data dir's storage (objects and temp files)."""
        return sorted(p for p in (self.data_dir / "storage").rglob("*") if p.is_file())

    def client(self, user: str | None = None) -> httpx.Client:
        """An httpx client, logged in as ``user`` when given."""
        client = httpx.Client(base_url=self.url, verify=False, timeout=60)
        if user is not None:
            r = client.post("/2.0/login/basic", data={"username": user, "password": password(user)})
            assert r.status_code == 200, r.text
        return client


@dataclass
class CurlResult:
    status: int
    body: bytes
    headers: dict[str, str]
    returncode: int

    def json(self) -> Any:
        return json.loads(self.body)


CURL = shutil.which("curl")


class Curl:
    """curl as a partner script runs it: one cookie jar per session, ``-F`` uploads."""

    def __init__(self, gateway: Gateway, jar: Path) -> None:
        if CURL is None:
            raise RuntimeError("curl is not installed")
        self.gateway = gateway
        self.jar = jar

    def __call__(self, *args: str, path: str | None = None) -> CurlResult:
        """Run curl with ``args``; ``path`` (like ``/2.0/files/x``) is appended to the base URL."""
        header_file = self.jar.with_suffix(".headers")
        assert CURL is not None
        cmd: list[str] = [CURL, "-s", "-k", "-b", str(self.jar), "-c", str(self.jar), "-D", str(header_file), "-o", "-"]
        cmd += list(args)
        if path is not None:
            cmd.append(self.gateway.url + path)
        done = subprocess.run(cmd, capture_output=True, timeout=300)
        status, headers = 0, dict[str, str]()
        if header_file.exists():
            for line in header_file.read_text(errors="replace").splitlines():
                if line.startswith("HTTP/"):
                    status, headers = int(line.split()[1]), {}
                elif ":" in line:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
        return CurlResult(status=status, body=done.stdout, headers=headers, returncode=done.returncode)

    def login(self, user: str, secret: str | None = None) -> CurlResult:
        secret = password(user) if secret is None else secret
        return self("-X", "POST", "-d", f"username={user}&password={secret}", path="/2.0/login/basic")


def assert_envelope(
    result: CurlResult | httpx.Response, status: int, error_type: str, message: str | None = None
) -> None:
    """The response is exactly the error envelope with this status, errorType (and message)."""
    code = result.status if isinstance(result, CurlResult) else result.status_code
    body = result.json()
    assert code == status, (code, body)
    assert set(body) == {"result", "timestamp", "message", "errorType"}, body
    assert body["result"] == "failed"
    assert body["errorType"] == error_type, body
    ts = body["timestamp"]
    assert len(ts) == 24 and ts.endswith("Z") and ts[19] == ".", ts
    if message is not None:
        assert body["message"] == message, body


@contextmanager
def running(gw: Gateway) -> Iterator[Gateway]:
    """Start ``gw`` and always stop it (SIGTERM, then SIGKILL if it hangs)."""
    gw.start()
    try:
        yield gw
    finally:
        try:
            gw.stop(timeout=40)
        finally:
            gw.kill()


def tls_files(directory: Path) -> tuple[Path, Path, ssl.SSLContext]:
    """A certificate and key for 127.0.0.1 from a throwaway CA, and a client context trusting it."""
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = directory / "cert.pem", directory / "key.pem"
    for i, blob in enumerate(leaf.cert_chain_pems):
        blob.write_to_path(str(cert), append=i > 0)
    leaf.private_key_pem.write_to_path(str(key))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return cert, key, context
