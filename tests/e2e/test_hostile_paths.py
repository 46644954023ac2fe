"""Hostile request paths against the real server: traversal, encodings, symlinks and ACL aliases.

httpx (and curl) normalise ``..`` away before sending, so every request here is written byte for
byte over a plain socket (:func:`raw_request`). The contract under test (partner API, "Base URL,
paths and encoding"): the path after ``/2.0/<endpoint>/`` is decoded exactly once and must have
no empty, ``.`` or ``..`` segment, no encoded separator, no control character or backslash, at
most 255 bytes a name and 4096 bytes in all, else ``400 request_syntax`` (DELETE: ``400
syntax_error`` "missing param or syntax error"); and nothing outside the storage root is ever
read, written, listed or deleted, symlinks included.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests import pg
from tests.e2e.harness import CurlResult, Gateway, assert_envelope

pytestmark = pytest.mark.e2e

USERS = ("alice", "bob", "carol")
BOUNDARY = "hostile-paths-boundary-5f3a"
LEAK_MARKERS = (b"root:x:0:0", b"Traceback", b'File "/', b"/etc/", b"site-packages")


# ---------------------------------------------------------------------------------------------
# a raw HTTP/1.1 client
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def as_curl(self) -> CurlResult:
        """For :func:`assert_envelope`."""
        return CurlResult(status=self.status, body=self.body, headers=self.headers, returncode=0)

    def describe(self) -> str:
        return f"{self.status} {self.body[:160]!r}"


@dataclass(frozen=True)
class Session:
    user: str
    token: str

    @property
    def cookie(self) -> bytes:
        return f"sp-http-usr={self.user}; sp-http-ses={self.token}".encode("ascii")


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


def raw_request(
    port: int,
    method: str,
    target: bytes,
    *,
    session: Session | None = None,
    body: bytes = b"",
    content_type: str | None = None,
    extra_headers: Sequence[bytes] = (),
    timeout: float = 15.0,
) -> RawResponse:
    """Send ``METHOD target HTTP/1.1`` exactly as given (nothing normalised) and read the answer."""
    head = [method.encode("ascii") + b" " + target + b" HTTP/1.1", f"Host: 127.0.0.1:{port}".encode("ascii")]
    if session is not None:
        head.append(b"Cookie: " + session.cookie)
    if content_type is not None:
        head.append(b"Content-Type: " + content_type.encode("ascii"))
    if body or method in ("PUT", "POST"):
        head.append(b"Content-Length: " + str(len(body)).encode("ascii"))
    head += [*extra_headers, b"Connection: close"]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed before the headers: {data!r}")
            data += chunk
        header_block, _, rest = data.partition(b"\r\n\r\n")
        lines = header_block.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length")
        if length is not None:
            while len(rest) < int(length):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
            rest = rest[: int(length)]
        else:
            while chunk := sock.recv(65536):
                rest += chunk
            if headers.get("transfer-encoding", "").lower() == "chunked":
                rest = _dechunk(rest)
    return RawResponse(status, headers, rest)


def multipart(content: bytes, filename: str = "payload.txt") -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def upload(port: int, session: Session, path: bytes, content: bytes) -> RawResponse:
    return raw_request(
        port, "PUT", b"/2.0/files/" + path, session=session, body=multipart(content), content_type=MULTIPART
    )


def download(port: int, session: Session, path: bytes) -> RawResponse:
    return raw_request(port, "GET", b"/2.0/files/" + path, session=session)


def login(gateway: Gateway, user: str) -> Session:
    client = gateway.client(user)  # already open: it has logged in
    try:
        token = client.cookies.get("sp-http-ses")
        assert token, client.cookies
        assert client.cookies.get("sp-http-usr") == user
    finally:
        client.close()
    return Session(user, token)


def envelope_problem(r: RawResponse, status: int, error_type: str, message: str | None = None) -> str | None:
    """None when ``r`` is exactly the error envelope, else why not."""
    try:
        assert_envelope(r.as_curl(), status, error_type, message)
    except (AssertionError, ValueError):
        return f"expected {status} {error_type}, got {r.describe()}"
    return None


def _etype(r: RawResponse) -> str:
    try:
        return str(r.json().get("errorType", "?"))
    except (ValueError, AttributeError):
        return "?"


def leaks(body: bytes, extra: Sequence[bytes] = ()) -> list[bytes]:
    return [m for m in (*LEAK_MARKERS, *extra) if m and m in body]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------------------------------
# endpoints and the corpus
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    name: str  # the segment after /2.0/
    body: bytes = b""
    content_type: str | None = None

    @property
    def id(self) -> str:
        return f"{self.method}-{self.name}"

    def send(self, port: int, session: Session, path: bytes) -> RawResponse:
        target = f"/2.0/{self.name}/".encode() + path
        return raw_request(port, self.method, target, session=session, body=self.body, content_type=self.content_type)


ENDPOINTS = [
    Endpoint("PUT", "files", multipart(b"hostile upload"), MULTIPART),
    Endpoint("POST", "files", multipart(b"hostile upload"), MULTIPART),
    Endpoint("GET", "files"),
    Endpoint("DELETE", "files"),
    Endpoint("GET", "metadata"),
    Endpoint("GET", "meadata"),
    Endpoint("POST", "metadata", b'{"description": "hostile"}', "application/json"),
    Endpoint("GET", "countelements"),
    Endpoint("GET", "directories"),
]


@dataclass(frozen=True)
class Hostile:
    id: str
    raw: bytes
    literal: bool = False  # after ONE decode an odd but valid name, in a folder that does not exist


def _ids(entries: Sequence[Hostile]) -> list[str]:
    return [e.id for e in entries]


_LONG_NAME = b"a" * 300
_LONG_MULTIBYTE = b"%C3%A9" * 128  # 256 bytes decoded
_LONG_PATH = b"/".join([b"abcdefghi"] * 500)  # 4999 bytes
_LONG_PATH_ENCODED = b"/".join([b"%41" * 100 + b"a" * 100] * 21)  # 8.4 kB sent, 4221 bytes decoded

CORPUS: list[Hostile] = [
    # dot-dot, every spelling
    Hostile("dotdot", b".."),
    Hostile("dotdot-slash", b"../"),
    Hostile("dotdot-etc-passwd", b"../../../../../../etc/passwd"),
    Hostile("inbox-dotdot-etc-passwd", b"inbox/../../../../etc/passwd"),
    Hostile("dotdot-encoded-slash", b"..%2f..%2f..%2fetc%2fpasswd"),
    Hostile("dotdot-encoded-slash-upper", b"..%2F..%2F..%2Fetc%2Fpasswd"),
    Hostile("encoded-dotdot-slash", b"%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
    Hostile("encoded-dotdot-upper", b"%2E%2E/%2E%2E/etc/passwd"),
    Hostile("all-encoded", b"%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
    Hostile("dot-encoded-dot", b".%2e/.%2e/etc/passwd"),
    Hostile("encoded-dot-dot", b"%2e./%2e./etc/passwd"),
    Hostile("inbox-encoded-dotdot", b"inbox/%2e%2e/%2e%2e/etc/passwd"),
    Hostile("dotdot-encoded-backslash", b"..%5c..%5c..%5cetc%5cpasswd"),
    Hostile("dotdot-encoded-backslash-upper", b"..%5C..%5Cetc%5Cpasswd"),
    Hostile("dotdot-raw-backslash", b"..\\..\\..\\etc\\passwd"),
    Hostile("inbox-raw-backslash", b"inbox\\..\\..\\x"),
    Hostile("four-dots", b"....//....//etc/passwd"),
    Hostile("three-dots", b".../x"),
    Hostile("dot-first", b"./inbox/x"),
    Hostile("encoded-dot-middle", b"inbox/%2e/x"),
    Hostile("dot-last", b"inbox/."),
    Hostile("empty-middle", b"inbox//x"),
    Hostile("empty-trailing", b"inbox/x//"),
    Hostile("dotdot-semicolon-then-dotdot", b"inbox/..;/../etc/passwd"),
    # encoded separators inside a name
    Hostile("encoded-slash-folder", b"inbox%2fx"),
    Hostile("encoded-slash-upper-folder", b"inbox%2Farchive/x"),
    Hostile("encoded-slash-name", b"inbox/a%2fb"),
    Hostile("encoded-backslash-name", b"inbox/a%5cb"),
    # NUL and control characters
    Hostile("nul", b"inbox/x%00"),
    Hostile("nul-extension", b"inbox/passwd%00.txt"),
    Hostile("nul-traversal", b"..%00/etc/passwd"),
    Hostile("newline", b"inbox/x%0a"),
    Hostile("carriage-return", b"inbox/x%0d"),
    Hostile("tab", b"inbox/a%09b"),
    Hostile("escape", b"inbox/x%1b%5b31m"),
    Hostile("del", b"inbox/x%7f"),
    Hostile("c1-next-line", b"inbox/x%c2%85"),
    Hostile("line-separator", b"inbox/x%e2%80%a8"),
    # invalid UTF-8
    Hostile("overlong-dotdot", b"%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd"),
    Hostile("overlong-dotdot-3byte", b"%e0%80%ae%e0%80%ae/etc/passwd"),
    Hostile("overlong-slash", b"..%c0%af..%c0%afetc%c0%afpasswd"),
    Hostile("overlong-backslash", b"..%c1%9c..%c1%9cetc"),
    Hostile("invalid-ff", b"inbox/%ff"),
    Hostile("lone-continuation", b"inbox/%80"),
    Hostile("surrogate", b"inbox/%ed%a0%80"),
    # Windows reserved names, trailing dots and spaces
    Hostile("windows-con", b"inbox/CON"),
    Hostile("windows-nul-txt", b"inbox/nul.txt"),
    Hostile("windows-com1", b"inbox/COM1"),
    Hostile("windows-lpt9-log", b"inbox/LPT9.log"),
    Hostile("windows-aux-folder", b"AUX/x"),
    Hostile("trailing-dot", b"inbox/evil."),
    Hostile("trailing-space", b"inbox/evil%20"),
    Hostile("leading-space", b"inbox/%20evil"),
    # lengths
    Hostile("name-300-bytes", b"inbox/" + _LONG_NAME),
    Hostile("name-256-bytes-multibyte", b"inbox/" + _LONG_MULTIBYTE),
    Hostile("folder-300-bytes", _LONG_NAME + b"/x"),
    Hostile("path-5000-bytes", _LONG_PATH),
    Hostile("path-4221-bytes-encoded", _LONG_PATH_ENCODED),
    # name policy (docs/api.md): colons, invisible characters, invalid escapes, depth
    Hostile("colon-ntfs-stream", b"inbox/file.txt::$DATA"),
    Hostile("colon-drive", b"C:/x"),
    Hostile("colon-encoded", b"inbox/a%3ab"),
    Hostile("bidi-override", b"inbox/%e2%80%aegnp.exe"),
    Hostile("zero-width-space", b"inbox/a%e2%80%8bb"),
    Hostile("zero-width-joiner-folder", b"in%e2%80%8dbox/x"),
    Hostile("bom", b"inbox/%ef%bb%bfx"),
    Hostile("soft-hyphen", b"inbox/a%c2%adb"),
    Hostile("no-break-space", b"inbox/a%c2%a0b"),
    Hostile("hangul-filler", b"inbox/%e3%85%a4"),
    Hostile("private-use", b"inbox/%ee%80%80"),
    Hostile("bad-escape-zz", b"inbox/%zz"),
    Hostile("bad-escape-alone", b"inbox/%"),
    Hostile("bad-escape-short", b"inbox/%2"),
    Hostile("iis-unicode-escape", b"%u002e%u002e/etc/passwd"),
    Hostile("depth-1000", b"/".join([b"d"] * 1000)),
    Hostile("depth-65", b"inbox/" + b"/".join([b"d"] * 64)),
    # not hostile after ONE decode: literal names in folders that do not exist
    Hostile("double-encoded-dotdot", b"%252e%252e/%252e%252e/etc/passwd", literal=True),
    Hostile("double-encoded-upper", b"%252E%252E/etc/passwd", literal=True),
    Hostile("double-encoded-slash", b"..%252f..%252fetc/passwd", literal=True),
    Hostile("double-encoded-all", b"%252e%252e%252f%252e%252e%252fetc/passwd", literal=True),
    Hostile("double-encoded-overlong", b"%25c0%25ae%25c0%25ae/etc/passwd", literal=True),
    Hostile("double-encoded-nul", b"x%2500/passwd", literal=True),
    Hostile("dotdot-semicolon", b"..;/etc/passwd", literal=True),
    Hostile("fullwidth-dots", b"%ef%bc%8e%ef%bc%8e/%ef%bc%8e%ef%bc%8e/etc/passwd", literal=True),
    Hostile("two-dot-leader", b"%e2%80%a5/etc/passwd", literal=True),
]


# ---------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sessions(gateway: Gateway) -> dict[str, Session]:
    """One logged-in session per user, reused by every raw request of the module."""
    return {user: login(gateway, user) for user in USERS}


@dataclass
class Canary:
    path: Path
    content: bytes
    mtime_ns: int = 0

    def plant(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(self.content)
        self.mtime_ns = self.path.stat().st_mtime_ns

    def problem(self) -> str | None:
        if not self.path.is_file():
            return f"{self.path} is gone"
        if self.path.read_bytes() != self.content or self.path.stat().st_mtime_ns != self.mtime_ns:
            return f"{self.path} was modified"
        return None


def _tree(directory: Path) -> dict[str, int]:
    """Every entry under ``directory`` (not following symlinks) with its mtime."""
    out = {".": directory.lstat().st_mtime_ns}
    for dirpath, dirnames, filenames in os.walk(directory):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath, name)
            out[str(p.relative_to(directory))] = p.lstat().st_mtime_ns
    return out


@dataclass
class Canaries:
    """Secret files outside the storage root, and traversal paths aimed at them."""

    gateway: Gateway
    outside: Path  # a fresh directory under /tmp, nothing to do with the gateway
    items: list[Canary] = field(default_factory=list)

    @property
    def contents(self) -> list[bytes]:
        return [c.content for c in self.items]

    def plant(self) -> None:
        names = [
            self.gateway.root / "canary.txt",  # the gateway root: two levels above storage/
            self.gateway.data_dir / "canary.txt",  # the data dir: storage/'s parent
            self.gateway.data_dir / "passwd",
            self.outside / "canary.txt",
        ]
        self.items = [Canary(p, f"CANARY-{uuid.uuid4().hex}\n".encode()) for p in names]
        for c in self.items:
            c.plant()

    def entries(self) -> list[Hostile]:
        """Traversals that would reach the canaries if ``..`` or ``%2F`` were honoured."""
        up = b"../" * 12
        tmp_rel = str(self.outside).lstrip("/").encode()
        tmp_enc = tmp_rel.replace(b"/", b"%2f")
        return [
            Hostile("canary-datadir", b"../canary.txt"),
            Hostile("canary-datadir-passwd", b"inbox/../../passwd"),
            Hostile("canary-root", b"../../canary.txt"),
            Hostile("canary-root-encoded", b"%2e%2e/%2e%2e/canary.txt"),
            Hostile("canary-root-encoded-slash", b"..%2f..%2fcanary.txt"),
            Hostile("canary-root-via-folder", b"inbox/%2e%2e/%2e%2e/%2e%2e/canary.txt"),
            Hostile("canary-tmp-dotdot", up + tmp_rel + b"/canary.txt"),
            Hostile("canary-tmp-absolute-encoded", b"%2f" + tmp_enc + b"%2fcanary.txt"),
            Hostile("canary-tmp-traversal-encoded", b"..%2f" * 12 + tmp_enc + b"%2fcanary.txt"),
            Hostile("canary-tmp-backslash", b"..%5c" * 12 + tmp_rel.replace(b"/", b"%5c") + b"%5ccanary.txt"),
            Hostile("canary-tmp-double-encoded", b"%252e%252e/" * 12 + tmp_rel + b"/canary.txt", literal=True),
        ]

    def problems(self) -> list[str]:
        out = [p for c in self.items if (p := c.problem()) is not None]
        listing = sorted(os.listdir(self.outside))
        if listing != ["canary.txt"]:
            out.append(f"{self.outside} now holds {listing}")
        return out


@pytest.fixture(scope="module")
def canaries(gateway: Gateway) -> Iterator[Canaries]:
    outside = Path(tempfile.mkdtemp(prefix="mft-canary-", dir="/tmp"))
    c = Canaries(gateway, outside)
    c.plant()
    try:
        yield c
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def _outside_storage(gateway: Gateway) -> set[str]:
    """Names under the gateway root other than the storage and the catalog's own files."""
    storage = gateway.data_dir / "storage"
    out: set[str] = set()
    for p in gateway.root.rglob("*"):
        if p == storage or storage in p.parents:
            continue
        if p.name.endswith(("-wal", "-shm", "-journal")):
            continue
        out.add(str(p.relative_to(gateway.root)))
    return out


# ---------------------------------------------------------------------------------------------
# 1 + 2: the corpus on every endpoint; canaries outside the root untouched
# ---------------------------------------------------------------------------------------------


def _expect(endpoint: Endpoint, entry: Hostile, r: RawResponse, secrets: Sequence[bytes]) -> str | None:
    if r.status in (200, 201, 206) or r.status >= 500:
        return f"{endpoint.id} {entry.id}: must never be {r.describe()}"
    leaked = leaks(r.body, secrets)
    if leaked:
        return f"{endpoint.id} {entry.id}: body leaks {leaked}: {r.describe()}"
    if entry.literal:
        problem = envelope_problem(r, 404, "io")
    elif endpoint.method == "DELETE":
        problem = envelope_problem(r, 400, "syntax_error", "missing param or syntax error")
    else:
        problem = envelope_problem(r, 400, "request_syntax")
    return None if problem is None else f"{endpoint.id} {entry.id}: {problem}"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.id for e in ENDPOINTS])
def test_hostile_corpus_every_endpoint_rejected(
    gateway: Gateway, sessions: dict[str, Session], canaries: Canaries, endpoint: Endpoint
) -> None:
    outside_before = _outside_storage(gateway)
    stored_before = gateway.storage_files()
    log_offset = len(gateway.log())
    corpus = [*CORPUS, *canaries.entries()]
    secrets = [*canaries.contents, str(gateway.data_dir).encode()]
    problems: list[str] = []
    for entry in corpus:
        r = endpoint.send(gateway.port, sessions["alice"], entry.raw)
        problem = _expect(endpoint, entry, r, secrets)
        if problem is not None:
            problems.append(problem)
    assert not problems, f"{len(problems)} of {len(corpus)} hostile paths misbehaved:\n" + "\n".join(problems)
    assert not canaries.problems()
    assert _outside_storage(gateway) == outside_before
    assert gateway.storage_files() == stored_before, "a hostile request left an object or temp file"
    new_log = gateway.log()[log_offset:]
    assert "Traceback" not in new_log and "unhandled error" not in new_log, new_log[-3000:]


def test_hostile_corpus_canaries_never_served_or_touched(
    gateway: Gateway, sessions: dict[str, Session], canaries: Canaries
) -> None:
    """Every canary-aimed traversal, on every endpoint, as every user; then the canaries are intact."""
    secrets = canaries.contents
    for user in USERS:
        for endpoint in ENDPOINTS:
            for entry in canaries.entries():
                r = endpoint.send(gateway.port, sessions[user], entry.raw)
                assert r.status not in (200, 201, 206) and r.status < 500, (user, endpoint.id, entry.id, r.describe())
                assert not leaks(r.body, secrets), (user, endpoint.id, entry.id, r.describe())
    assert not canaries.problems()


# A CR or LF anywhere but at the very end of the decoded path: Starlette's ``{path:path}`` pattern
# (``.*`` without DOTALL) does not match, so these must still come out as the path error.
MID_PATH_LINE_BREAKS = [
    Hostile("crlf-injection", b"inbox/x%0d%0aSet-Cookie:%20sp-http-ses=evil"),
    Hostile("lf-inside-name", b"inbox/a%0ab"),
    Hostile("cr-lf-inside-name", b"inbox/a%0d%0ab"),
    Hostile("lf-in-folder", b"inbox%0a/x"),
    Hostile("lf-traversal", b"%0a/../../etc/passwd"),
]


def test_line_break_inside_path_rejected_as_path_error(gateway: Gateway, sessions: dict[str, Session]) -> None:
    wrong: dict[tuple[str, int, bytes], list[str]] = {}
    for endpoint in ENDPOINTS:
        for entry in MID_PATH_LINE_BREAKS:
            r = endpoint.send(gateway.port, sessions["alice"], entry.raw)
            if _expect(endpoint, entry, r, ()) is not None:
                message = r.body.split(b'"message":')[-1][:60]
                wrong.setdefault((entry.id, r.status, message), []).append(endpoint.id)
    assert not wrong, "expected 400 request_syntax (DELETE: 400 syntax_error):\n" + "\n".join(
        f"{entry} -> {status} {message!r} on {', '.join(endpoints)}"
        for (entry, status, message), endpoints in wrong.items()
    )


def test_double_encoded_dotdot_is_a_literal_name_not_traversal(gateway: Gateway, sessions: dict[str, Session]) -> None:
    """``%252e%252e`` decodes once to the name ``%2e%2e``: storable and fetchable as that name only."""
    alice = sessions["alice"]
    name = unique("lit")
    target = b"inbox/%252e%252e" + name.encode()
    assert upload(gateway.port, alice, target, b"literal").status == 201
    got = download(gateway.port, alice, target)
    assert got.status == 200 and got.body == b"literal"
    listing = raw_request(gateway.port, "GET", b"/2.0/directories/inbox", session=alice).json()
    assert f"%2e%2e{name}" in [e["name"] for e in listing["elements"]]
    # A server decoding twice would take both spellings for "..<name>"; decoded once, that is another name.
    r = download(gateway.port, alice, b"inbox/%2e%2e" + name.encode())
    assert envelope_problem(r, 404, "io") is None, r.describe()
    assert raw_request(gateway.port, "DELETE", b"/2.0/files/" + target, session=alice).status == 200


def test_empty_leading_segment_rejected_on_every_endpoint(gateway: Gateway, sessions: dict[str, Session]) -> None:
    """``/2.0/<endpoint>//inbox/x`` has an empty first segment: 400, not an alias of ``inbox/x``."""
    problems: list[str] = []
    name = unique("lead").encode()
    for endpoint in ENDPOINTS:
        for path in (b"/inbox/" + name, b"//inbox/" + name, b"/inbox/"):
            r = endpoint.send(gateway.port, sessions["alice"], path)
            if endpoint.method == "DELETE":
                problem = envelope_problem(r, 400, "syntax_error", "missing param or syntax error")
            else:
                problem = envelope_problem(r, 400, "request_syntax")
            if problem is not None:
                problems.append(f"{endpoint.method} /2.0/{endpoint.name}/{path.decode()}: {problem}")
    for target in (b"/2.0/directories//", b"/2.0/countelements//"):
        r = raw_request(gateway.port, "GET", target, session=sessions["alice"])
        if (problem := envelope_problem(r, 400, "request_syntax")) is not None:
            problems.append(f"GET {target.decode()}: {problem}")
    assert not problems, "\n".join(problems)


def test_encoded_separator_in_endpoint_prefix_never_retargets(gateway: Gateway, sessions: dict[str, Session]) -> None:
    """``/2.0/files%2Finbox/x`` is not ``/2.0/files/<path>``: refuse it, never store ``x`` elsewhere."""
    alice = sessions["alice"]
    name = unique("prefix")
    r = raw_request(
        gateway.port,
        "PUT",
        f"/2.0/files%2Finbox/{name}".encode(),
        session=alice,
        body=multipart(b"where am i"),
        content_type=MULTIPART,
    )
    root = raw_request(gateway.port, "GET", b"/2.0/directories/", session=alice).json()
    inbox = raw_request(gateway.port, "GET", b"/2.0/directories/inbox", session=alice).json()
    stored_at = [
        p for p, listing in (("/", root), ("/inbox", inbox)) if name in [e["name"] for e in listing["elements"]]
    ]
    assert r.status in (400, 404) and envelope_problem(r, r.status, "request_syntax") is None, (
        f"PUT /2.0/files%2Finbox/{name} -> {r.describe()}; stored at {stored_at}"
    )
    assert stored_at == []
    for target in (b"/2.0/countelements%2Finbox", b"/2.0/directories%2Finbox", b"/2.0%2Fdirectories/inbox"):
        r = raw_request(gateway.port, "GET", target, session=alice)
        assert r.status in (400, 404), (target, r.describe())


# ---------------------------------------------------------------------------------------------
# 4: ACL bypass through non-canonical spellings
# ---------------------------------------------------------------------------------------------


def _bob_spellings(name: str, nfd_name: bytes) -> list[bytes]:
    n = quote(name, safe="").encode("ascii")
    return [
        b"outbox/../inbox/" + n,
        b"outbox/../../inbox/" + n,
        b"outbox/%2e%2e/inbox/" + n,
        b"outbox/%2E%2E/inbox/" + n,
        b"outbox%2f..%2finbox/" + n,
        b"outbox/..%2finbox/" + n,
        b"outbox/..%5cinbox/" + n,
        b"outbox\\..\\inbox/" + n,
        b"outbox/..;/inbox/" + n,
        b"outbox/%252e%252e/inbox/" + n,
        b"outbox/%c0%ae%c0%ae/inbox/" + n,
        b"./inbox/" + n,
        b"%2e/inbox/" + n,
        b"inbox/./" + n,
        b"inbox/archive/../" + n,
        b"inbox//" + n,
        b"/inbox/" + n,
        b"inbox%2f" + n,
        b"%69nbox/" + n,
        b"INBOX/" + n,
        b"Inbox/" + n,
        b"inbox/" + n.upper(),
        b"inbox/" + n + b"/",
        b"inbox/" + n + b"/x",
        b"inbox/" + n + b"%00",
        b"inbox/" + n + b"%00.txt",
        b"inbox/" + n + b".",
        b"inbox/" + n + b"%20",
        b"inbox/" + n + b";",
        b"inbox/" + n + b"%3b",
        b"inbox/" + n + b"?x=1",
        b"inbox/" + nfd_name,
        b"outbox/../inbox/" + nfd_name,
    ]


def test_acl_bob_cannot_download_inbox_through_any_spelling(gateway: Gateway, sessions: dict[str, Session]) -> None:
    alice, bob = sessions["alice"], sessions["bob"]
    name = unique("secret") + ".txt"
    nfc_name = f"caf\u00e9-{name}"
    secret = f"TOP-SECRET-{uuid.uuid4().hex}".encode()
    for n in (name, nfc_name):
        assert upload(gateway.port, alice, b"inbox/" + quote(n, safe="").encode(), secret).status == 201
    nfd = unicodedata.normalize("NFD", nfc_name).encode()
    nfd_raw = b"".join(b"%%%02X" % b if b >= 0x80 else bytes([b]) for b in nfd)
    assert nfd_raw.startswith(b"cafe%CC%81-")
    # Baselines: alice reads it, bob is refused by the ACL.
    assert download(gateway.port, alice, b"inbox/" + name.encode()).body == secret
    assert download(gateway.port, alice, b"inbox/" + quote(nfc_name, safe="").encode()).body == secret
    assert download(gateway.port, alice, b"inbox/" + nfd_raw).body == secret
    r = download(gateway.port, bob, b"inbox/" + name.encode())
    assert envelope_problem(r, 403, "authorization", "No read permission") is None, r.describe()

    problems: list[str] = []
    for endpoint in ("files", "metadata", "meadata"):
        for path in [*_bob_spellings(name, nfd_raw), *_bob_spellings(nfc_name, nfd_raw)]:
            r = raw_request(gateway.port, "GET", f"/2.0/{endpoint}/".encode() + path, session=bob)
            if r.status not in (400, 403, 404) or secret in r.body or b"TOP-SECRET" in r.body:
                problems.append(f"GET /2.0/{endpoint}/{path!r}: {r.describe()}")
            elif (problem := envelope_problem(r, r.status, _etype(r))) is not None:
                problems.append(f"GET /2.0/{endpoint}/{path!r}: {problem}")
    for target in (
        f"/2.0/files%2Finbox/{name}",
        f"/2.0/files%2Foutbox/inbox/{name}",
        f"/2.0/files%2Foutbox%2F..%2Finbox/{name}",
        f"/2.0/files/outbox%2F..%2F..%2Ffiles/inbox/{name}",
        f"/2.0/files/outbox/../../files/inbox/{name}",
        f"/2.0/directories/../files/inbox/{name}",
        f"/2.0/metadata/../files/inbox/{name}",
    ):
        r = raw_request(gateway.port, "GET", target.encode(), session=bob)
        if r.status == 200 or secret in r.body:
            problems.append(f"GET {target}: {r.describe()}")
    assert not problems, "\n".join(problems)


def test_acl_carol_cannot_list_inbox_through_any_spelling(gateway: Gateway, sessions: dict[str, Session]) -> None:
    alice, carol = sessions["alice"], sessions["carol"]
    name = unique("hidden") + ".txt"
    assert upload(gateway.port, alice, b"inbox/" + name.encode(), b"hidden").status == 201
    # carol may upload there, but not list it
    assert upload(gateway.port, carol, b"inbox/" + unique("carol").encode(), b"c").status == 201
    spellings = [
        b"inbox",
        b"inbox/",
        b"./inbox",
        b"%2e/inbox",
        b"inbox/.",
        b"inbox/%2e",
        b"inbox/archive/..",
        b"inbox/archive/%2e%2e",
        b"outbox/../inbox",
        b"outbox/..%2finbox",
        b"outbox%2f..%2finbox",
        b"inbox%2f",
        b"inbox%2f.",
        b"/inbox",
        b"inbox//",
        b"%69nbox",
        b"INBOX",
        b"inbox;",
        b"inbox%00",
        b"inbox%20",
        b"inbox.",
        b"inbox/archive",
        b"",
    ]
    problems: list[str] = []
    for endpoint in ("directories", "countelements"):
        for path in spellings:
            for query in (b"", b"?filter=*&type=all"):
                target = f"/2.0/{endpoint}/".encode() + path + query
                r = raw_request(gateway.port, "GET", target, session=carol)
                if r.status not in (400, 403, 404) or name.encode() in r.body:
                    problems.append(f"GET {target!r}: {r.describe()}")
    for target in (
        b"/2.0/directories",
        b"/2.0/countelements",
        b"/2.0/directories%2Finbox",
        b"/2.0/countelements%2Finbox",
    ):
        r = raw_request(gateway.port, "GET", target, session=carol)
        if r.status not in (400, 403, 404) or name.encode() in r.body:
            problems.append(f"GET {target!r}: {r.describe()}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# 5: NFC equivalence for legitimate use
# ---------------------------------------------------------------------------------------------


def test_nfc_upload_nfd_download_same_file(gateway: Gateway, sessions: dict[str, Session]) -> None:
    alice = sessions["alice"]
    tag = uuid.uuid4().hex[:10]
    nfc = f"caf%C3%A9-{tag}.txt".encode()
    nfd = f"cafe%CC%81-{tag}.txt".encode()
    assert upload(gateway.port, alice, b"inbox/" + nfc, b"first version").status == 201
    got = download(gateway.port, alice, b"inbox/" + nfd)
    assert got.status == 200 and got.body == b"first version", got.describe()
    meta = raw_request(gateway.port, "GET", b"/2.0/metadata/inbox/" + nfd, session=alice)
    assert meta.status == 200, meta.describe()
    # Uploading under the NFD spelling replaces the same file; the catalog keeps the NFC name.
    assert upload(gateway.port, alice, b"inbox/" + nfd, b"second version").status == 201
    got = download(gateway.port, alice, b"inbox/" + nfc)
    assert got.status == 200 and got.body == b"second version", got.describe()
    listing = raw_request(gateway.port, "GET", f"/2.0/directories/inbox?filter=*{tag}*".encode(), session=alice)
    names = [e["name"] for e in listing.json()["elements"]]
    assert names == [f"caf\u00e9-{tag}.txt"], names
    count = raw_request(gateway.port, "GET", f"/2.0/countelements/inbox?filter=*{tag}*".encode(), session=alice)
    assert count.body == b"1"
    assert raw_request(gateway.port, "DELETE", b"/2.0/files/inbox/" + nfd, session=alice).status == 200
    assert download(gateway.port, alice, b"inbox/" + nfc).status == 404


# ---------------------------------------------------------------------------------------------
# 3: symlinks planted inside the storage root
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def isolated_catalog(catalog_url: str | None) -> Iterator[str | None]:
    """A catalog of its own (the shared gateway's PostgreSQL database is left alone)."""
    if catalog_url is None:
        yield None
        return
    with pg.fresh_database() as url:
        yield url


Planter = Callable[[Path], None]


@pytest.fixture
def planted_gateway(tmp_path: Path, isolated_catalog: str | None) -> Iterator[Callable[[Planter], Gateway]]:
    """Start a dedicated gateway after ``plant(storage_root)`` prepared its storage."""
    started: list[Gateway] = []

    def start(plant: Planter) -> Gateway:
        gw = Gateway(root=tmp_path / f"gw{len(started)}", database_url=isolated_catalog)
        storage = gw.data_dir / "storage"
        storage.mkdir(parents=True)
        plant(storage)
        started.append(gw)
        return gw.start()

    yield start
    for gw in started:
        gw.stop()


def _objects(gw: Gateway) -> list[Path]:
    return [p for p in gw.storage_files() if "objects" in p.relative_to(gw.data_dir / "storage").parts]


def _assert_inside(gw: Gateway, path: Path) -> None:
    root = os.path.realpath(gw.data_dir / "storage")
    real = os.path.realpath(path)
    assert os.path.commonpath([root, real]) == root, (path, real)


def _etc_snapshot() -> tuple[set[str], bytes]:
    return set(os.listdir("/etc")), Path("/etc/passwd").read_bytes()


def test_symlinked_folders_in_storage_root_never_followed(
    planted_gateway: Callable[[Planter], Gateway], tmp_path: Path
) -> None:
    escape = tmp_path / "escape"
    escape.mkdir()
    secret = f"ESCAPED-{uuid.uuid4().hex}".encode()
    (escape / "secret.txt").write_bytes(secret)
    (escape / "passwd").write_bytes(secret)

    def plant(storage: Path) -> None:
        (storage / "default").mkdir()
        (storage / "default" / "inbox").symlink_to("/etc")
        (storage / "default" / "outbox").symlink_to(escape)
        (storage / "pa").symlink_to("/etc")
        (storage / "inbox").symlink_to("/etc")
        (storage / "outbox").symlink_to(escape)
        (storage / "deep").symlink_to(escape)
        (storage / "etc").symlink_to("/etc")

    etc_before = _etc_snapshot()
    escape_before = _tree(escape)
    gw = planted_gateway(plant)
    alice = login(gw, "alice")
    secrets = [secret, etc_before[1][:40]]

    root = raw_request(gw.port, "GET", b"/2.0/directories/", session=alice)
    assert root.status == 200
    assert sorted(e["name"] for e in root.json()["elements"]) == ["deep", "http_api", "httpapi", "inbox", "outbox"]
    for folder in (b"inbox", b"outbox", b"deep/a/b", b"deep"):
        listing = raw_request(gw.port, "GET", b"/2.0/directories/" + folder, session=alice)
        assert listing.status == 200, listing.describe()
        files = [e["name"] for e in listing.json()["elements"] if e["type"] == "file"]
        assert files == [], (folder, files)
        count = raw_request(gw.port, "GET", b"/2.0/countelements/" + folder + b"?type=files", session=alice)
        assert count.body == b"0", (folder, count.describe())
    for path in (b"inbox/passwd", b"inbox/hostname", b"outbox/secret.txt", b"deep/passwd", b"etc/passwd"):
        for endpoint in (b"files", b"metadata"):
            r = raw_request(gw.port, "GET", b"/2.0/" + endpoint + b"/" + path, session=alice)
            assert envelope_problem(r, 404, "io") is None, (path, r.describe())
            assert not leaks(r.body, secrets)
        r = raw_request(gw.port, "DELETE", b"/2.0/files/" + path, session=alice)
        assert envelope_problem(r, 404, "io") is None, (path, r.describe())

    # Uploads under the same names land in the root, as opaque objects.
    for path, content in ((b"inbox/passwd", b"not the real passwd"), (b"outbox/secret.txt", b"mine")):
        r = upload(gw.port, alice, path, content)
        assert r.status == 201, r.describe()
        got = download(gw.port, alice, path)
        assert got.status == 200 and got.body == content
    objects = _objects(gw)
    assert len(objects) == 2
    for obj in objects:
        _assert_inside(gw, obj)
        assert not obj.is_symlink()
    assert _etc_snapshot() == etc_before
    assert _tree(escape) == escape_before
    assert (escape / "secret.txt").read_bytes() == secret


def test_object_replaced_by_symlink_never_served_or_deleted(
    planted_gateway: Callable[[Planter], Gateway], tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = f"OUTSIDE-{uuid.uuid4().hex}".encode()
    target_file = outside / "secret.bin"
    target_file.write_bytes(secret)
    gw = planted_gateway(lambda storage: None)
    alice = login(gw, "alice")

    # a) the object file itself becomes a symlink to a file outside the root
    assert upload(gw.port, alice, b"inbox/a.txt", b"AAA").status == 201
    (obj_a,) = _objects(gw)
    obj_a.unlink()
    obj_a.symlink_to(target_file)

    # b) the object's prefix directory becomes a symlink to a directory outside the root holding a
    #    file under the object's own name
    before = set(_objects(gw))
    assert upload(gw.port, alice, b"inbox/b.txt", b"BBB").status == 201
    (obj_b,) = set(_objects(gw)) - before
    prefix = obj_b.parent
    evil_dir = outside / f"evil-{prefix.name}"
    shutil.move(str(prefix), str(outside / f"moved-{prefix.name}"))
    evil_dir.mkdir()
    (evil_dir / obj_b.name).write_bytes(secret)
    prefix.symlink_to(evil_dir)
    outside_before = _tree(outside)

    for path in (b"inbox/a.txt", b"inbox/b.txt"):
        for extra in ((), (b"Range: bytes=0-",), (b"Range: bytes=-5",)):
            r = raw_request(gw.port, "GET", b"/2.0/files/" + path, session=alice, extra_headers=extra)
            assert secret not in r.body and b"OUTSIDE-" not in r.body, (path, r.describe())
            assert r.status in (400, 404, 500), (path, r.describe())
            assert envelope_problem(r, r.status, _etype(r)) is None
            assert not leaks(r.body, [str(tmp_path).encode()])
    # c) a new upload either lands inside the root or fails cleanly
    r = upload(gw.port, alice, b"inbox/c.txt", b"CCC")
    if r.status == 201:
        (obj_c,) = [p for p in _objects(gw) if p.name not in (obj_a.name, obj_b.name)]
        _assert_inside(gw, obj_c)
    else:
        assert envelope_problem(r, r.status, _etype(r)) is None, r.describe()
        assert not leaks(r.body, [str(tmp_path).encode()])
    # d) deleting the files never removes anything outside
    for path in (b"inbox/a.txt", b"inbox/b.txt"):
        r = raw_request(gw.port, "DELETE", b"/2.0/files/" + path, session=alice)
        assert r.status in (200, 400, 404, 500), r.describe()
    assert target_file.read_bytes() == secret
    assert (evil_dir / obj_b.name).read_bytes() == secret
    assert _tree(outside) == outside_before


@pytest.mark.parametrize("what", ["prefix-dirs", "objects-dir"])
def test_object_dirs_symlinked_outside_upload_refused(
    planted_gateway: Callable[[Planter], Gateway], tmp_path: Path, what: str
) -> None:
    """Every ``objects/<xx>`` (or ``objects/`` itself) leads outside the root: nothing may land there."""
    outside = tmp_path / "objects-elsewhere"
    outside.mkdir()
    for i in range(256):
        (outside / f"{i:02x}").mkdir()

    def plant(storage: Path) -> None:
        if what == "objects-dir":
            (storage / "objects").symlink_to(outside)
            return
        (storage / "objects").mkdir()
        for i in range(256):
            (storage / "objects" / f"{i:02x}").symlink_to(outside / f"{i:02x}")

    outside_before = _tree(outside)
    if what == "objects-dir":
        # A symlinked objects/ is refused at start-up: the gateway will not run on it at all.
        with pytest.raises(RuntimeError, match="is a symlink or leaves the root"):
            planted_gateway(plant)
        assert _tree(outside) == outside_before
        return
    gw = planted_gateway(plant)
    alice = login(gw, "alice")
    for i in range(3):
        r = upload(gw.port, alice, f"inbox/escape-{i}.txt".encode(), b"must stay inside")
        assert r.status != 201, "every object directory leads outside the root: the upload cannot succeed"
        assert r.status in (400, 500, 503, 507), r.describe()
        assert envelope_problem(r, r.status, _etype(r)) is None, r.describe()
        assert not leaks(r.body, [str(tmp_path).encode(), b"objects/"])
        got = download(gw.port, alice, f"inbox/escape-{i}.txt".encode())
        assert envelope_problem(got, 404, "io") is None, got.describe()
    assert _tree(outside) == outside_before
    leftovers = [p for p in gw.storage_files() if p.suffix == ".part"]
    assert leftovers == []


def test_temp_dir_symlinked_outside_never_written_or_swept(
    planted_gateway: Callable[[Planter], Gateway], tmp_path: Path
) -> None:
    """``storage/tmp`` replaced by a symlink: the gateway must not write or delete through it."""
    outside = tmp_path / "tmp-elsewhere"
    outside.mkdir()
    stale = outside / "otherhost.1.0123456789abcdef.part"  # what the startup sweep looks for
    stale.write_bytes(b"not the gateway's to delete")
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    (outside / "keep.txt").write_bytes(b"keep")
    outside_before = _tree(outside)

    def plant(storage: Path) -> None:
        (storage / "tmp").symlink_to(outside)

    try:
        gw: Gateway | None = planted_gateway(plant)
    except RuntimeError:
        gw = None  # refusing to start on a symlinked temp dir is an acceptable answer
    problems: list[str] = []
    if not stale.exists():
        problems.append(f"the startup sweep deleted {stale.name} outside the storage root, through storage/tmp")
    after_start = _tree(outside)
    if gw is not None:
        alice = login(gw, "alice")
        r = upload(gw.port, alice, b"inbox/through-tmp.txt", b"payload " * 1000)
        if r.status == 201:
            for obj in _objects(gw):
                _assert_inside(gw, obj)
        elif (problem := envelope_problem(r, r.status, _etype(r))) is not None:
            problems.append(problem)
        if _tree(outside) != after_start:
            problems.append(f"the upload ({r.status}) created or removed entries in {outside} (storage/tmp's target)")
    if after_start != outside_before and stale.exists():
        problems.append(f"{outside} changed while the gateway started")
    assert not problems, "\n".join(problems)
