"""Real remote peers on loopback for the connector tests, each started on an ephemeral port.

- :class:`Sshd`: Debian's OpenSSH ``sshd`` with its own config, host key and authorized key,
  serving ``internal-sftp`` in a temporary folder.
- :class:`FaultSftp`: an asyncssh SFTP server in a thread, with switchable faults (drop the
  connection or report a full disk after N bytes of a file, answer writes slowly).
- :class:`MotoS3`: moto's S3 server mode in a subprocess.
- :class:`FileReceiver`: an HTTPS file server (GET/PUT/POST/DELETE) over a folder, optionally
  requiring a client certificate; uploads land under a temporary name and are renamed when complete.
- :class:`Pki`: a throwaway CA (trustme) with a server certificate for 127.0.0.1 and a client one.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import asyncssh
import httpx
import trustme

from gateway.config._connections import parse_connections
from gateway.config._fields import Cursor
from gateway.config.schema import Connection

SSHD = "/usr/sbin/sshd"
PASSWORD = "sftp-pw-Secret-42"


def connection(body: dict[str, Any], name: str = "peer") -> Connection:
    """A connection built by the real ``connections.yaml`` parser; fails on any problem."""
    problems: list[str] = []
    found = parse_connections(Cursor(problems, "connections.yaml"), {"connections": {name: body}})
    assert problems == [], problems
    return found[name]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def make_file(path: Path, size: int) -> str:
    """A file of ``size`` pseudo-random bytes (not compressible, not all equal); its SHA-256."""
    block = hashlib.sha512(path.name.encode()).digest() * 16384  # 1 MiB
    digest = hashlib.sha256()
    with path.open("wb") as f:
        left, counter = size, 0
        while left > 0:
            piece = (counter.to_bytes(8, "big") + block)[: min(left, len(block) + 8)]
            f.write(piece)
            digest.update(piece)
            left -= len(piece)
            counter += 1
    return digest.hexdigest()


class Pki:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA()
        self.ca_pem = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_pem))
        server = self.ca.issue_cert("127.0.0.1", "localhost")
        self.server_cert, self.server_key = directory / "server.pem", directory / "server.key"
        for i, blob in enumerate(server.cert_chain_pems):
            blob.write_to_path(str(self.server_cert), append=i > 0)
        server.private_key_pem.write_to_path(str(self.server_key))
        client = self.ca.issue_cert("mft-gateway-client")
        self.client_cert, self.client_key = directory / "client.pem", directory / "client.key"
        for i, blob in enumerate(client.cert_chain_pems):
            blob.write_to_path(str(self.client_cert), append=i > 0)
        client.private_key_pem.write_to_path(str(self.client_key))


# --- OpenSSH sshd -----------------------------------------------------------------------------


@dataclass
class Sshd:
    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    host_key_line: str = ""
    client_key_path: Path = field(default_factory=Path)

    @property
    def root(self) -> Path:
        return self.directory / "files"

    def start(self) -> Sshd:
        d = self.directory
        self.root.mkdir(parents=True, exist_ok=True)
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        host_key.write_private_key(str(d / "host_key"))
        os.chmod(d / "host_key", 0o600)
        self.host_key_line = host_key.export_public_key().decode().strip()
        client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key_path = d / "client_key"
        client_key.write_private_key(str(self.client_key_path))
        client_key.write_public_key(str(d / "authorized_keys"))
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
        self.port = free_port()
        config = d / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {d / 'host_key'}",
                    f"PidFile {d / 'sshd.pid'}",
                    f"AuthorizedKeysFile {d / 'authorized_keys'}",
                    "StrictModes no",
                    "UsePAM no",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin prohibit-password",
                    "Subsystem sftp internal-sftp",
                    f"ForceCommand internal-sftp -d {self.root}",
                    "LogLevel ERROR",
                    "",
                ]
            )
        )
        with (d / "sshd.log").open("ab") as log:
            self.process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=log
            )
        wait_for_port(self.port, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def have_sshd() -> bool:
    return shutil.which(SSHD) is not None or Path(SSHD).exists()


# --- asyncssh SFTP server with faults ----------------------------------------------------------


@dataclass
class Faults:
    """What the fault server does to the next writes (reset between tests)."""

    drop_after: int | None = None  # abort the connection once a file reaches this many bytes
    drops_left: int = 0
    full_after: int | None = None  # answer "no space" once a file would pass this many bytes
    write_delay: float = 0.0
    no_posix_rename: bool = False

    def reset(self) -> None:
        self.drop_after, self.drops_left, self.full_after = None, 0, None
        self.write_delay, self.no_posix_rename = 0.0, False


class _Auth(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == "mft" and password == PASSWORD


class FaultSftp:
    """An asyncssh SFTP server on its own event loop in a thread, chrooted to ``root``."""

    def __init__(self, directory: Path) -> None:
        self.root = directory / "files"
        self.root.mkdir(parents=True, exist_ok=True)
        self.faults = Faults()
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.host_key_line = self.host_key.export_public_key().decode().strip()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncssh.SSHAcceptor | None = None

    def start(self) -> FaultSftp:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        self.port = self._server.get_port()
        return self

    async def _listen(self) -> asyncssh.SSHAcceptor:
        faults, root = self.faults, str(self.root).encode()

        class Server(asyncssh.SFTPServer):
            def __init__(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
                super().__init__(chan, chroot=root)

            async def write(self, file_obj: object, offset: int, data: bytes) -> int:
                if faults.write_delay:
                    await asyncio.sleep(faults.write_delay)
                end = offset + len(data)
                if faults.full_after is not None and end > faults.full_after:
                    raise asyncssh.SFTPNoSpaceOnFilesystem("No space left on device")
                if faults.drop_after is not None and faults.drops_left > 0 and end > faults.drop_after:
                    faults.drops_left -= 1
                    self._chan.get_connection().abort()
                    raise asyncssh.SFTPConnectionLost("dropped by the test")
                written = super().write(file_obj, offset, data)
                assert isinstance(written, int)
                return written

            def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
                if faults.no_posix_rename:
                    raise asyncssh.SFTPOpUnsupported("posix-rename not offered by this test server")
                super().posix_rename(oldpath, newpath)

        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[self.host_key],
            server_factory=_Auth,
            sftp_factory=Server,
            allow_scp=False,
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            asyncio.run_coroutine_threadsafe(self._server.wait_closed(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


# --- moto S3 ------------------------------------------------------------------------------------


@dataclass
class MotoS3:
    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoS3:
        self.port = free_port()
        server = Path(sys.executable).with_name("moto_server")
        with (self.directory / "moto.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(server), "-H", "127.0.0.1", "-p", str(self.port)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port, self.process, timeout=60)
        return self

    def create_bucket(self, name: str) -> None:
        r = httpx.put(f"{self.endpoint}/{name}", timeout=30)
        assert r.status_code == 200, r.text

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


# --- HTTPS file receiver ------------------------------------------------------------------------


@dataclass
class FileReceiver:
    """Serves ``root`` over HTTPS at ``/files/<path>``; records each request's method, path, headers."""

    root: Path
    pki: Pki
    require_client_cert: bool = False
    port: int = 0
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer the next uploads with
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/files"

    def start(self) -> FileReceiver:
        self.root.mkdir(parents=True, exist_ok=True)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _target(self) -> Path | None:
                if not self.path.startswith("/files/"):
                    return None
                parts = [unquote(p) for p in self.path[len("/files/") :].split("?")[0].split("/")]
                if any(p in ("", ".", "..") or "/" in p for p in parts):
                    return None
                return receiver.root.joinpath(*parts)

            def _record(self) -> None:
                receiver.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))

            def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._record()
                target = self._target()
                if target is None or not target.is_file():
                    self._answer(404, b"not found")
                    return
                digest = base64.b64encode(bytes.fromhex(sha256_file(target))).decode()
                self.send_response(200)
                self.send_header("Content-Length", str(target.stat().st_size))
                self.send_header("Repr-Digest", f"sha-256=:{digest}:")
                self.end_headers()
                with target.open("rb") as f:
                    shutil.copyfileobj(f, self.wfile, 1 << 20)

            def _upload(self) -> None:
                self._record()
                target = self._target()
                if target is None:
                    self._answer(400, b"bad path")
                    return
                if receiver.fail_next:
                    for _ in self._body():
                        pass
                    self._answer(receiver.fail_next.pop(0), b"try later")
                    return
                temp = target.with_name(f".{target.name}.incoming")
                digest = hashlib.sha256()
                with temp.open("wb") as out:
                    for block in self._body():
                        out.write(block)
                        digest.update(block)
                length = self.headers.get("Content-Length")
                if length is not None and temp.stat().st_size != int(length):
                    temp.unlink()
                    self.close_connection = True
                    self._answer(400, b"short body")
                    return
                temp.replace(target)
                echoed = base64.b64encode(digest.digest()).decode()
                self._answer(201, b"stored", {"Repr-Digest": f"sha-256=:{echoed}:"})

            do_PUT = _upload
            do_POST = _upload

            def _body(self) -> Iterator[bytes]:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return
                        left = size
                        while left:
                            block = self.rfile.read(min(left, 1 << 20))
                            if not block:
                                return
                            left -= len(block)
                            yield block
                        self.rfile.readline()
                left = int(self.headers.get("Content-Length", "0"))
                while left > 0:
                    block = self.rfile.read(min(left, 1 << 20))
                    if not block:
                        return
                    left -= len(block)
                    yield block

            def do_DELETE(self) -> None:
                self._record()
                target = self._target()
                if target is None or not target.is_file():
                    self._answer(404, b"not found")
                    return
                target.unlink()
                self._answer(204)

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.pki.server_cert), str(self.pki.server_key))
        if self.require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(str(self.pki.ca_pem))
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.port = int(server.server_address[1])
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def started(peer: Any) -> Iterator[Any]:
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()
