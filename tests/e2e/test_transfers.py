"""Transfers through the real server: resumable downloads, large and parallel uploads, cut uploads.

The "decided" parts of the wire contract under test: uploads are streamed, hashed (SHA-256) and
atomic (a failed or cut upload leaves no file, no temp file and no catalog row; a replacement is
atomic with a new fileset); downloads are streamed with ``Range``/206, ``ETag`` and a digest.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.harness import CURL, Curl, Gateway, assert_envelope

MiB = 1024 * 1024
BOUNDARY = "e2e-b0uNdArY-7f3a9c"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _repr_digest(hexdigest: str) -> str:
    return "sha-256=:" + base64.b64encode(bytes.fromhex(hexdigest)).decode("ascii") + ":"


def _objects(gw: Gateway) -> list[Path]:
    return [p for p in gw.storage_files() if "objects" in p.parts]


def _temp_files(gw: Gateway) -> list[Path]:
    return [p for p in gw.storage_files() if p.name.endswith(".part")]


def _names(client: httpx.Client, folder: str, pattern: str = "*") -> dict[str, str]:
    """File name → fileset of ``folder`` (a filter keeps other tests' files out)."""
    r = client.get(f"/2.0/directories/{folder}", params={"filter": pattern, "type": "files"})
    assert r.status_code == 200, r.text
    return {e["name"]: e["fileset"] for e in r.json()["elements"]}


def _cookie_header(client: httpx.Client) -> str:
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def _wait_for_request_done(gw: Gateway, request_id: str) -> None:
    """Wait (bounded) until the server has finished the request sent with ``X-Request-Id``: the
    access log writes its line, with that id, once the app is done with it."""
    deadline = time.monotonic() + 15
    while f"id={request_id}" not in gw.log():
        assert time.monotonic() < deadline, f"the server never finished request {request_id}:\n{gw.log()[-3000:]}"
        time.sleep(0.05)


def _bytes_read(gw: Gateway) -> int:
    """Bytes the server process has read so far (``rchar`` of /proc/<pid>/io: files and sockets)."""
    assert gw.process is not None
    for line in Path(f"/proc/{gw.process.pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError("no rchar")


def _multipart_head(filename: str = "upload.bin") -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


MULTIPART_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


class _GeneratedBody:
    """A multipart body of ``size`` pseudo-random bytes, produced on the fly (never held whole).

    Every 1 MiB block differs (a counter in its first 8 bytes), so swapped or repeated blocks
    change the digest; ``sha256`` is the digest of the file content once the body was consumed.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._block = os.urandom(MiB)
        self._hash = hashlib.sha256()
        self._head = _multipart_head()
        self.content_length = len(self._head) + size + len(MULTIPART_TAIL)

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        sent, index = 0, 0
        while sent < self.size:
            chunk = (struct.pack(">Q", index) + self._block[8:])[: self.size - sent]
            self._hash.update(chunk)
            sent += len(chunk)
            index += 1
            yield chunk
        yield MULTIPART_TAIL

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def headers(self) -> dict[str, str]:
        return {"Content-Type": MULTIPART, "Content-Length": str(self.content_length)}


class _RssSampler:
    """Samples the server's VmRSS every 10 ms in a thread; ``peak_kib`` is the largest seen."""

    def __init__(self, gw: Gateway) -> None:
        self._gw = gw
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_kib = gw.rss_kib()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_kib = max(self.peak_kib, self._gw.rss_kib())
            except (OSError, RuntimeError):  # the process went away: nothing more to sample
                return
            self._stop.wait(0.01)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(5)


def _curl_to_file(curl: Curl, out: Path, path: str, *args: str) -> tuple[int, dict[str, str]]:
    """curl writing the body into ``out`` (as ``-o file`` / ``-C -`` scripts do); status and headers."""
    assert CURL is not None
    header_file = out.with_name(out.name + ".headers")
    cmd = [CURL, "-s", "-S", "-k", "-b", str(curl.jar), "-c", str(curl.jar), "-D", str(header_file)]
    cmd += ["-o", str(out), *args, curl.gateway.url + path]
    done = subprocess.run(cmd, capture_output=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr)
    status, headers = 0, dict[str, str]()
    for line in header_file.read_text(errors="replace").splitlines():
        if line.startswith("HTTP/"):
            status, headers = int(line.split()[1]), {}
        elif ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    return status, headers


# --- 1. Range / resume -------------------------------------------------------------------------


def test_download_cut_then_curl_resume_reassembles_identical_file(curl: Curl, tmp_path: Path) -> None:
    assert curl.login("alice").status == 200
    original = os.urandom(3 * MiB + 12_345)
    size, digest = len(original), _sha256(original)
    src = tmp_path / "resume-src.bin"
    src.write_bytes(original)
    put = curl("-X", "PUT", "-F", f"file=@{src}", path="/2.0/files/outbox/resume.bin")
    assert put.status == 201, put.body

    part = tmp_path / "resume.bin"
    status, headers = _curl_to_file(curl, part, "/2.0/files/outbox/resume.bin", "-r", "0-999999")
    assert status == 206, headers
    assert headers["content-range"] == f"bytes 0-999999/{size}"
    assert headers["content-length"] == "1000000"
    assert part.read_bytes() == original[:1_000_000]

    status, headers = _curl_to_file(curl, part, "/2.0/files/outbox/resume.bin", "-C", "-")
    assert status == 206, headers
    assert headers["content-range"] == f"bytes 1000000-{size - 1}/{size}"
    assert _sha256(part.read_bytes()) == digest
    assert headers["repr-digest"] == _repr_digest(digest)
    assert headers["accept-ranges"] == "bytes"


def test_download_if_range_matching_etag_206_else_full_200(curl: Curl, tmp_path: Path) -> None:
    assert curl.login("alice").status == 200
    original = os.urandom(300_000)
    src = tmp_path / "ifrange.bin"
    src.write_bytes(original)
    assert curl("-X", "PUT", "-F", f"file=@{src}", path="/2.0/files/outbox/ifrange.bin").status == 201

    full = curl(path="/2.0/files/outbox/ifrange.bin")
    assert full.status == 200 and full.body == original
    etag = full.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2, etag
    assert full.headers["repr-digest"] == _repr_digest(_sha256(original))

    same = curl("-r", "1000-", "-H", f"If-Range: {etag}", path="/2.0/files/outbox/ifrange.bin")
    assert same.status == 206, same.headers
    assert same.body == original[1000:]
    assert same.headers["content-range"] == f"bytes 1000-{len(original) - 1}/{len(original)}"
    assert same.headers["etag"] == etag

    other = curl("-r", "1000-", "-H", 'If-Range: "not-the-current-etag"', path="/2.0/files/outbox/ifrange.bin")
    assert other.status == 200, other.headers
    assert other.body == original
    assert "content-range" not in other.headers


# --- 2. Large transfer, flat memory --------------------------------------------------------------


@pytest.mark.slow
def test_upload_download_1gib_server_memory_flat(catalog_url: str | None, tmp_path: Path) -> None:
    """A 1 GiB upload and download must not need more server RAM than a 10 KiB one.

    VmHWM alone is a weak signal here: the login's argon2 verification already raises the peak
    tens of MiB above the idle RSS, which hides anything smaller. So the RSS is also sampled
    during each transfer and compared with the RSS just before it.
    """
    limit_kib = 64 * 1024
    gw = Gateway(root=tmp_path / "gw", database_url=catalog_url).start()
    try:
        with closing(gw.client("alice")) as client:
            small = _GeneratedBody(10 * 1024)
            r = client.put("/2.0/files/inbox/small.bin", content=iter(small), headers=small.headers())
            assert r.status_code == 201, r.text
            hwm_small = gw.hwm_kib()

            big = _GeneratedBody(1024 * MiB)
            rss_before_upload = gw.rss_kib()
            started = time.monotonic()
            with _RssSampler(gw) as upload_rss:
                r = client.put(
                    "/2.0/files/inbox/big.bin", content=iter(big), headers=big.headers(), timeout=httpx.Timeout(120)
                )
            upload_s = time.monotonic() - started
            assert r.status_code == 201, r.text
            hwm_upload = gw.hwm_kib()

            rss_before_download = gw.rss_kib()
            download_hash, received = hashlib.sha256(), 0
            started = time.monotonic()
            with _RssSampler(gw) as download_rss:
                with client.stream("GET", "/2.0/files/inbox/big.bin", timeout=httpx.Timeout(120)) as resp:
                    assert resp.status_code == 200
                    assert resp.headers["content-length"] == str(big.size)
                    for chunk in resp.iter_raw():
                        download_hash.update(chunk)
                        received += len(chunk)
            download_s = time.monotonic() - started
            hwm_download = gw.hwm_kib()
            objects_with_big = len(_objects(gw))
            assert client.delete("/2.0/files/inbox/big.bin").status_code == 200
            assert len(_objects(gw)) == objects_with_big - 1
    finally:
        gw.stop()
        shutil.rmtree(gw.data_dir / "storage", ignore_errors=True)  # pytest keeps old tmp dirs: not 1 GiB each

    print(
        f"\n1 GiB upload {big.size / upload_s / 1e6:.0f} MB/s, download {big.size / download_s / 1e6:.0f} MB/s; "
        f"HWM after 10 KiB {hwm_small} KiB, after 1 GiB up {hwm_upload} KiB, down {hwm_download} KiB; "
        f"RSS peak during upload +{upload_rss.peak_kib - rss_before_upload} KiB, "
        f"download +{download_rss.peak_kib - rss_before_download} KiB"
    )
    assert received == big.size
    assert download_hash.hexdigest() == big.sha256
    assert resp.headers["repr-digest"] == _repr_digest(big.sha256)
    assert hwm_upload - hwm_small < limit_kib, (hwm_small, hwm_upload)
    assert hwm_download - hwm_small < limit_kib, (hwm_small, hwm_download)
    assert upload_rss.peak_kib - rss_before_upload < limit_kib, (rss_before_upload, upload_rss.peak_kib)
    assert download_rss.peak_kib - rss_before_download < limit_kib, (rss_before_download, download_rss.peak_kib)


# --- 2b. Downloads that stall, are abandoned, or race a replacement ------------------------------

STALL_SIZE = 96 * MiB


@pytest.fixture(scope="module")
def stall_file(gateway: Gateway) -> Iterator[str]:
    """A 96 MiB file for the raw-socket download tests; its path under ``/2.0/files/``."""
    with closing(gateway.client("alice")) as client:
        r = client.put("/2.0/files/outbox/stall.bin", files={"file": ("stall.bin", os.urandom(STALL_SIZE))})
        assert r.status_code == 201, r.text
        yield "outbox/stall.bin"
        client.delete("/2.0/files/outbox/stall.bin")


@contextmanager
def _raw_download(gw: Gateway, path: str) -> Iterator[socket.socket]:
    """GET ``path`` on a raw socket with a small receive buffer; the caller reads (or not) at will.

    On exit the connection is reset (RST, as a killed client's would be) and the server has
    finished with the request.
    """
    with closing(gw.client("alice")) as client:
        cookie = _cookie_header(client)
    request_id = uuid.uuid4().hex
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", gw.port))
        request = f"GET /2.0/files/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
        sock.sendall(f"{request}X-Request-Id: {request_id}\r\n\r\n".encode())
        try:
            yield sock
        finally:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    _wait_for_request_done(gw, request_id)


def _receive(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(min(65536, n - len(data)))
        assert chunk, "connection closed early"
        data += chunk
    return bytes(data)


def test_download_stalled_reader_server_reads_ahead_bounded(gateway: Gateway, stall_file: str) -> None:
    """Back-pressure: a client that stops reading must not make the server read (and buffer) the file."""
    start = _bytes_read(gateway)
    with _raw_download(gateway, stall_file) as sock:
        assert _receive(sock, 1 * MiB).startswith(b"HTTP/1.1 200 ")
        rss_before = gateway.rss_kib()
        time.sleep(1.0)  # the client takes nothing for a while
        read_while_stalled = _bytes_read(gateway) - start
        rss_stalled = gateway.rss_kib()
    assert read_while_stalled < 32 * MiB, read_while_stalled
    assert rss_stalled - rss_before < 32 * 1024, (rss_before, rss_stalled)


def test_download_abandoned_by_client_server_stops_reading_file(gateway: Gateway, stall_file: str) -> None:
    """A client that goes away after 1 MiB of 96 must not cost the server reading the other 95."""
    start = _bytes_read(gateway)
    with _raw_download(gateway, stall_file) as sock:
        assert _receive(sock, 1 * MiB).startswith(b"HTTP/1.1 200 ")
    read = _bytes_read(gateway) - start
    assert read < STALL_SIZE // 2, f"the server read {read} bytes for a download abandoned after 1 MiB"


def test_download_in_progress_when_file_replaced_completes_with_old_version(gateway: Gateway) -> None:
    old, new = os.urandom(32 * MiB), os.urandom(1000)
    objects_before = len(_objects(gateway))
    with closing(gateway.client("alice")) as client:
        r = client.put("/2.0/files/outbox/replaced.bin", files={"file": ("replaced.bin", old)})
        assert r.status_code == 201, r.text
        old_fileset = r.json()["fileset"]
        with client.stream("GET", "/2.0/files/outbox/replaced.bin") as resp:
            assert resp.status_code == 200
            chunks = resp.iter_raw()
            received = bytearray(next(chunks))
            assert len(received) < len(old)
            r = client.put("/2.0/files/outbox/replaced.bin", files={"file": ("replaced.bin", new)})
            assert r.status_code == 201, r.text
            new_fileset = r.json()["fileset"]
            for chunk in chunks:
                received += chunk
        assert bytes(received) == old, "a download begun before a replacement must deliver the old version whole"
        assert resp.headers["x-fileset"] == old_fileset
        assert new_fileset != old_fileset
        got = client.get("/2.0/files/outbox/replaced.bin")
        assert got.status_code == 200 and got.content == new
        assert got.headers["x-fileset"] == new_fileset
        assert got.headers["etag"] != resp.headers["etag"]
    assert len(_objects(gateway)) == objects_before + 1  # the old object went with its row
    assert _temp_files(gateway) == []


# --- 3. Upload cut half-way ---------------------------------------------------------------------


def _cut_upload(gw: Gateway, client: httpx.Client, path: str, how: str) -> None:
    """PUT ``path`` (e.g. ``inbox/x.bin``) announcing 8 MiB, send half, then drop the connection.

    Returns once the server has finished with the request (its access-log line is written).
    """
    cookie, request_id = _cookie_header(client), uuid.uuid4().hex
    head, size = _multipart_head(path.rpartition("/")[2]), 8 * MiB
    length = len(head) + size + len(MULTIPART_TAIL)
    request = (
        f"PUT /2.0/files/{path} HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\nCookie: {cookie}\r\n"
        f"Content-Type: {MULTIPART}\r\nContent-Length: {length}\r\nX-Request-Id: {request_id}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
        sock.sendall(request + head + os.urandom(size // 2))
        deadline = time.monotonic() + 10
        while not _temp_files(gw):  # the server is streaming it into a temp file
            assert time.monotonic() < deadline, "no temp file appeared while the upload was in flight"
            time.sleep(0.02)
        if how == "rst":  # abortive close: the kernel sends RST instead of FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    _wait_for_request_done(gw, request_id)


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_upload_connection_cut_halfway_leaves_nothing(gateway: Gateway, how: str) -> None:
    name = f"cut-{how}.bin"
    with closing(gateway.client("alice")) as client:
        before = gateway.storage_files()
        _cut_upload(gateway, client, f"inbox/{name}", how)
        assert gateway.storage_files() == before
        assert _temp_files(gateway) == []
        assert name not in _names(client, "inbox")
        assert_envelope(client.get(f"/2.0/files/inbox/{name}"), 404, "io", f"File '{name}' doesn't exist")


def test_upload_cut_over_existing_file_keeps_old_version(gateway: Gateway) -> None:
    old = os.urandom(100_000)
    with closing(gateway.client("alice")) as client:
        r = client.put("/2.0/files/inbox/cut-over.bin", files={"file": ("cut-over.bin", old)})
        assert r.status_code == 201, r.text
        fileset = r.json()["fileset"]
        before = gateway.storage_files()
        _cut_upload(gateway, client, "inbox/cut-over.bin", "rst")
        assert gateway.storage_files() == before
        got = client.get("/2.0/files/inbox/cut-over.bin")
        assert got.status_code == 200 and got.content == old
        assert got.headers["x-fileset"] == fileset
        assert _names(client, "inbox", "cut-over.bin") == {"cut-over.bin": fileset}


# --- 4. Parallel uploads ------------------------------------------------------------------------


def test_upload_32_parallel_distinct_names_all_stored_intact(gateway: Gateway) -> None:
    contents = {f"par-{i:02d}.bin": os.urandom(256 * 1024) for i in range(32)}
    objects_before = len(_objects(gateway))
    with closing(gateway.client("alice")) as client:
        barrier = threading.Barrier(len(contents), timeout=30)

        def put(name: str) -> httpx.Response:
            barrier.wait()
            return client.put(f"/2.0/files/deep/a/b/{name}", files={"file": (name, contents[name])})

        with ThreadPoolExecutor(max_workers=len(contents)) as pool:
            responses = dict(zip(contents, pool.map(put, contents), strict=True))
        assert {n: r.status_code for n, r in responses.items()} == dict.fromkeys(contents, 201)
        filesets = {n: r.json()["fileset"] for n, r in responses.items()}
        assert len(set(filesets.values())) == len(contents)

        def get(name: str) -> tuple[int, str]:
            r = client.get(f"/2.0/files/deep/a/b/{name}")
            return r.status_code, _sha256(r.content)

        with ThreadPoolExecutor(max_workers=8) as pool:
            downloads = dict(zip(contents, pool.map(get, contents), strict=True))
        assert downloads == {n: (200, _sha256(c)) for n, c in contents.items()}

        r = client.get("/2.0/directories/deep/a/b", params={"filter": "par-*"})
        assert r.status_code == 200
        assert r.json()["total"] == len(contents)
        assert _names(client, "deep/a/b", "par-*") == filesets
    assert len(_objects(gateway)) == objects_before + len(contents)
    assert _temp_files(gateway) == []


# --- 5. Concurrent uploads to one name ----------------------------------------------------------


def test_upload_8_concurrent_same_name_one_whole_version_no_leaked_objects(gateway: Gateway) -> None:
    """Every racer gets 201 (the catalog retries on the unique path); the last commit wins whole."""
    contents = [os.urandom(2 * MiB) for _ in range(8)]
    by_digest = {_sha256(c): i for i, c in enumerate(contents)}
    objects_before = len(_objects(gateway))
    with closing(gateway.client("alice")) as client:
        barrier = threading.Barrier(len(contents), timeout=30)

        def put(i: int) -> httpx.Response:
            barrier.wait()
            return client.put("/2.0/files/http_api/race.bin", files={"file": ("race.bin", contents[i])})

        with ThreadPoolExecutor(max_workers=len(contents)) as pool:
            responses = list(pool.map(put, range(len(contents))))
        assert [r.status_code for r in responses] == [201] * len(contents), [r.text for r in responses]
        filesets = [r.json()["fileset"] for r in responses]
        assert len(set(filesets)) == len(contents)

        listed = _names(client, "http_api", "race.bin")
        assert list(listed) == ["race.bin"]
        got = client.get("/2.0/files/http_api/race.bin")
        assert got.status_code == 200
        winner = by_digest.get(_sha256(got.content))
        assert winner is not None, "the stored content is none of the uploads (mixed or corrupt)"
        assert listed["race.bin"] == got.headers["x-fileset"] == filesets[winner]
    assert len(_objects(gateway)) == objects_before + 1
    assert _temp_files(gateway) == []


# --- 6. Size limit ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [MiB + 1, 16 * MiB])
def test_upload_over_vfs_max_file_size_413_leaves_nothing(gateway: Gateway, size: int) -> None:
    name = f"too-big-{size}.bin"
    before = gateway.storage_files()
    with closing(gateway.client("appuser")) as client:
        r = client.put(f"/2.0/files/in/{name}", files={"file": (name, bytes(size))})
        assert_envelope(r, 413, "limit")
        assert gateway.storage_files() == before
        assert name not in _names(client, "in")
        assert_envelope(client.get(f"/2.0/files/in/{name}"), 404, "io")


def test_upload_exactly_vfs_max_file_size_201(gateway: Gateway) -> None:
    content = os.urandom(MiB)
    objects_before = len(_objects(gateway))
    with closing(gateway.client("appuser")) as client:
        r = client.put("/2.0/files/in/exactly-1mib.bin", files={"file": ("exactly-1mib.bin", content)})
        assert r.status_code == 201, r.text
        got = client.get("/2.0/files/in/exactly-1mib.bin")
        assert got.status_code == 200 and got.content == content
    assert len(_objects(gateway)) == objects_before + 1
    assert _temp_files(gateway) == []


# --- 7. Edge names and sizes --------------------------------------------------------------------


def test_upload_empty_file_roundtrips(gateway: Gateway) -> None:
    with closing(gateway.client("alice")) as client:
        r = client.put("/2.0/files/outbox/empty.bin", files={"file": ("empty.bin", b"")})
        assert r.status_code == 201, r.text
        got = client.get("/2.0/files/outbox/empty.bin")
        assert got.status_code == 200
        assert got.content == b""
        assert got.headers["content-length"] == "0"
        assert got.headers["repr-digest"] == _repr_digest(_sha256(b""))
        r = client.get("/2.0/directories/outbox", params={"filter": "empty.bin"})
        elements: list[dict[str, Any]] = r.json()["elements"]
        assert [(e["name"], e["size"]) for e in elements] == [("empty.bin", "0")]


@pytest.mark.parametrize("name", ["with spaces in it.txt", unicodedata.normalize("NFC", "Rapport été – 日本語 ü.txt")])
def test_upload_name_with_spaces_or_unicode_roundtrips(gateway: Gateway, name: str) -> None:
    content = os.urandom(5000)
    path = f"/2.0/files/inbox/{quote(name, safe='')}"
    with closing(gateway.client("alice")) as client:
        r = client.put(path, files={"file": ("ignored.bin", content)})
        assert r.status_code == 201, r.text
        got = client.get(path)
        assert got.status_code == 200 and got.content == content
        disposition = got.headers["content-disposition"]
        if name.isascii():
            assert disposition == f'attachment; filename="{name}"'
        else:  # RFC 6266: an ASCII fallback plus the exact UTF-8 name
            assert disposition.endswith(f"; filename*=UTF-8''{quote(name, safe='')}"), disposition
        assert _names(client, "inbox")[name] == r.json()["fileset"]
