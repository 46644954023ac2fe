"""Hostile values beyond the path: stored metadata that reaches headers, log injection, the
download's safety headers and metadata built to exhaust the parser — raw requests, real server.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
import uuid

import asyncpg
import pytest

from tests.e2e.harness import Gateway
from tests.e2e.test_hostile_paths import (
    ENDPOINTS,
    RawResponse,
    Session,
    download,
    envelope_problem,
    login,
    raw_request,
    unique,
    upload,
)

pytestmark = pytest.mark.e2e
BOUNDARY = "hostile-input-boundary-77c1"
FORM = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture(scope="module")
def alice(gateway: Gateway) -> Session:
    return login(gateway, "alice")


def form(content: bytes, *, part_type: bytes = b"text/plain", metadata: bytes | None = None) -> bytes:
    body = b""
    if metadata is not None:
        body += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n'
                "Content-Type: application/json\r\n\r\n"
            ).encode()
            + metadata
            + b"\r\n"
        )
    body += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\n'.encode()
        + b"Content-Type: "
        + part_type
        + b"\r\n\r\n"
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return body


def put(gateway: Gateway, session: Session, name: str, body: bytes) -> RawResponse:
    return raw_request(
        gateway.port, "PUT", f"/2.0/files/inbox/{name}".encode(), session=session, body=body, content_type=FORM
    )


def post_metadata(gateway: Gateway, session: Session, name: str, body: bytes) -> RawResponse:
    return raw_request(
        gateway.port,
        "POST",
        f"/2.0/metadata/inbox/{name}".encode(),
        session=session,
        body=body,
        content_type="application/json",
    )


def assert_400(r: RawResponse) -> None:
    problem = envelope_problem(r, 400, "request_syntax")
    assert problem is None, problem


def no_traceback_since(gateway: Gateway, offset: int) -> None:
    new = gateway.log()[offset:]
    assert "Traceback" not in new and "RecursionError" not in new, new[-3000:]


# ---------------------------------------------------------------------------------------------
# 1: stored values that reach a response header
# ---------------------------------------------------------------------------------------------

BAD_DATATYPES = [
    "text/plain\r\nSet-Cookie: a=b",
    "text/plain\n",
    "text/plain\x01",
    "text/\x7fplain",
    "text/plain\x85",
    "t\u00e9xt/plain",
    "text/plain; charset=\u202eutf8",
    "not a media type",
    "text/",
    "x" * 300 + "/y",
]


@pytest.mark.parametrize("value", BAD_DATATYPES, ids=range(len(BAD_DATATYPES)))
def test_bad_datatype_refused_by_post_metadata(gateway: Gateway, alice: Session, value: str) -> None:
    name = unique("dt") + ".txt"
    assert upload(gateway.port, alice, f"inbox/{name}".encode(), b"data").status == 201
    body = json.dumps({"datatype": value}).encode()
    assert_400(post_metadata(gateway, alice, name, body))
    got = download(gateway.port, alice, f"inbox/{name}".encode())
    assert got.status == 200 and got.body == b"data" and got.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "part_type",
    [b"text/plain\x01", b"text/\x7fplain", b"text/pl\xc2\x85ain", b"text/\xe9", b"no-slash", b"a/b; c"],
    ids=["soh", "del", "c1", "latin1", "no-slash", "bad-param"],
)
def test_bad_part_content_type_refused_nothing_stored(gateway: Gateway, alice: Session, part_type: bytes) -> None:
    before = gateway.storage_files()
    name = unique("pt")
    assert_400(put(gateway, alice, name, form(b"payload", part_type=part_type)))
    assert download(gateway.port, alice, f"inbox/{name}".encode()).status == 404
    assert gateway.storage_files() == before


def _plant_datatype(gateway: Gateway, name: str, value: str) -> None:
    sql = "UPDATE files SET datatype = {p} WHERE folder = 'inbox' AND name = {q}"
    if gateway.database_url is None:
        with sqlite3.connect(gateway.data_dir / "catalog.db") as db:
            assert db.execute(sql.format(p="?", q="?"), (value, name)).rowcount == 1
        return

    async def run() -> None:
        assert gateway.database_url is not None
        conn = await asyncpg.connect(gateway.database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            assert await conn.execute(sql.format(p="$1", q="$2"), value, name) == "UPDATE 1"
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.mark.parametrize("size", [10, 200_000], ids=["small", "large"])
@pytest.mark.parametrize(
    "planted", ["text/plain\r\nX-Evil: 1", "text/plain\x01", "t\u00e9xt/pl\u00e4in", "\u202etext/html"]
)
def test_planted_bad_datatype_still_downloads(gateway: Gateway, alice: Session, planted: str, size: int) -> None:
    """A row written before the store-time check (or by hand) must never break a download."""
    name = unique("planted") + ".txt"
    content = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert upload(gateway.port, alice, f"inbox/{name}".encode(), content).status == 201
    _plant_datatype(gateway, name, planted)
    offset = len(gateway.log())
    got = download(gateway.port, alice, f"inbox/{name}".encode())
    assert got.status == 200 and got.body == content, got.describe()
    assert got.headers["content-type"] == "application/octet-stream"
    assert "x-evil" not in got.headers
    ranged = raw_request(
        gateway.port, "GET", f"/2.0/files/inbox/{name}".encode(), session=alice, extra_headers=[b"Range: bytes=2-5"]
    )
    assert ranged.status == 206 and ranged.body == content[2:6]
    head = raw_request(gateway.port, "HEAD", f"/2.0/files/inbox/{name}".encode(), session=alice)
    assert head.status == 200 and head.headers["content-type"] == "application/octet-stream"
    no_traceback_since(gateway, offset)


# ---------------------------------------------------------------------------------------------
# 3: downloads are data, never a page
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "part_type", "served"),
    [
        ("index.html", b"application/octet-stream", "application/octet-stream"),
        ("page.htm", b"text/html; charset=utf-8", "application/octet-stream"),
        ("logo.svg", b"image/svg+xml", "application/octet-stream"),
        ("feed.xml", b"application/atom+xml", "application/octet-stream"),
        ("app.js", b"text/javascript", "application/octet-stream"),
        ("notes.txt", b"text/plain; charset=utf-8", "text/plain; charset=utf-8"),
        ("report.pdf", b"application/pdf", "application/pdf"),
        ("data.csv", b"text/csv", "text/csv"),
    ],
)
def test_download_safety_headers(
    gateway: Gateway, alice: Session, filename: str, part_type: bytes, served: str
) -> None:
    name = unique("page") + "-" + filename
    assert put(gateway, alice, name, form(b"<script>alert(1)</script>", part_type=part_type)).status == 201
    got = download(gateway.port, alice, f"inbox/{name}".encode())
    assert got.status == 200
    assert got.headers["content-type"] == served
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]
    assert "default-src 'none'" in got.headers["content-security-policy"]
    assert got.headers["content-disposition"].startswith("attachment;")


# ---------------------------------------------------------------------------------------------
# 6 (metadata): nesting, key count, value length
# ---------------------------------------------------------------------------------------------

DEEP_DOCUMENTS = {
    "array-5000": b"[" * 5000 + b"]" * 5000,
    "object-5000": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "value-array-5000": b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}",
    "unclosed-20000": b"[" * 20000,
    "nested-object": b'{"a": {"b": "c"}}',
    "too-many-keys": ("{" + ",".join(f'"k{i}": "v"' for i in range(300)) + "}").encode(),
    "long-value": b'{"a": "' + b"v" * 5000 + b'"}',
    "long-key": b'{"' + b"k" * 300 + b'": "v"}',
}


@pytest.mark.parametrize("doc", DEEP_DOCUMENTS.values(), ids=DEEP_DOCUMENTS.keys())
def test_hostile_metadata_is_400_on_post_and_upload(gateway: Gateway, alice: Session, doc: bytes) -> None:
    name = unique("md")
    assert upload(gateway.port, alice, f"inbox/{name}".encode(), b"x").status == 201
    offset = len(gateway.log())
    before = gateway.storage_files()
    assert_400(post_metadata(gateway, alice, name, doc))
    assert_400(put(gateway, alice, unique("md-up"), form(b"data", metadata=doc)))
    assert gateway.storage_files() == before
    no_traceback_since(gateway, offset)


def test_metadata_at_the_limits_accepted(gateway: Gateway, alice: Session) -> None:
    name = unique("md-ok")
    doc = ("{" + ",".join(f'"k{i}": "{"v" * 100}"' for i in range(256)) + "}").encode()
    assert put(gateway, alice, name, form(b"data", metadata=doc)).status == 201


# ---------------------------------------------------------------------------------------------
# 2: log injection — one line per request, whatever was sent
# ---------------------------------------------------------------------------------------------

_LINE_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \S+")
LOG_VECTORS = [
    b"inbox/x%0d%0a2026-01-01%2000:00:00,000%20INFO%20gateway.access:%20forged",
    b"inbox/x%0aforged",
    b"inbox/x%1b[31mred%1b[0m",
    b"inbox/x%7f%c2%85%c2%9b",
    b"inbox/%e2%80%aegnp.exe",
    b"inbox/%e2%80%a8%e2%80%a9",
    b"inbox/a%22%20500%200%20id=forged",
    b"inbox/a%5c%22b",
    b"inbox/%ff%fe",
    b"inbox/%zz",
    b"inbox/%00",
]


def test_log_one_line_per_request_whatever_the_path(gateway: Gateway, alice: Session) -> None:
    offset = len(gateway.log())
    ids: list[str] = []
    targets = [f"/2.0/{e.name}/".encode() for e in ENDPOINTS] + [b"/2.0/nowhere/", b"/", b"/2.0/login/"]
    methods = ["GET", "PUT", "POST", "DELETE"]
    for i, vector in enumerate(LOG_VECTORS):
        for j, prefix in enumerate(targets):
            rid = uuid.uuid4().hex
            ids.append(rid)
            session = alice if (i + j) % 2 else None  # authenticated or not
            r = raw_request(
                gateway.port,
                methods[j % 4],
                prefix + vector,
                session=session,
                extra_headers=[b"X-Request-Id: " + rid.encode()],
            )
            assert r.status < 500, (prefix + vector, r.describe())
            assert r.headers.get("x-request-id") == rid
    # A hostile X-Request-Id is never echoed nor logged: a fresh id replaces it.
    r = raw_request(gateway.port, "GET", b"/2.0/files/inbox/x", extra_headers=[b"X-Request-Id: forged id=1 <x>"])
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    deadline = 50
    while deadline and not all(f"id={rid}" in gateway.log()[offset:] for rid in ids):
        time.sleep(0.1)
        deadline -= 1
    new = gateway.log()[offset:]
    lines = new.split("\n")[:-1]
    for rid in ids:
        found = [line for line in lines if f"id={rid}" in line]
        assert len(found) == 1, (rid, found)
        assert found[0].endswith(f"id={rid}") and _LINE_START.match(found[0]), found[0]
        assert re.search(r' "[A-Z]+ [^"\\]*(?:\\.[^"\\]*)*" \d{3} \d+ ', found[0]), found[0]
    for line in lines:
        assert _LINE_START.match(line) or line.startswith("  "), repr(line)
        if " gateway.access" in line[:60]:  # a forged record would lack the id at its end
            assert re.search(r" id=[0-9a-f]{32}$", line), repr(line)
        assert line.isprintable(), repr(line)
    assert "\x1b" not in new and "\r" not in new and "\u202e" not in new and "\x85" not in new


# ---------------------------------------------------------------------------------------------
# 5: the name policy also holds for a name taken from the upload part's filename
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename",
    [
        "filename*=UTF-8''%E2%80%AEgnp.exe",
        "filename*=UTF-8''a%E2%80%8Bb.txt",
        "filename*=UTF-8''%EF%BB%BFbom.txt",
        'filename="file.txt::$DATA"',
        'filename="C:"',
        "filename*=UTF-8''a%C2%A0b.txt",
    ],
    ids=["bidi", "zwsp", "bom", "ntfs-stream", "drive", "nbsp"],
)
def test_post_to_folder_part_filename_policy(gateway: Gateway, alice: Session, filename: str) -> None:
    before = gateway.storage_files()
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; {filename}\r\n'
        f"Content-Type: text/plain\r\n\r\npayload\r\n--{BOUNDARY}--\r\n"
    ).encode()
    r = raw_request(gateway.port, "POST", b"/2.0/files/inbox/", session=alice, body=body, content_type=FORM)
    assert_400(r)
    assert gateway.storage_files() == before


def test_leading_dot_name_is_an_ordinary_file(gateway: Gateway, alice: Session) -> None:
    name = "." + unique("dot")
    assert upload(gateway.port, alice, f"inbox/{name}".encode(), b"hidden?").status == 201
    got = download(gateway.port, alice, f"inbox/{name}".encode())
    assert got.status == 200 and got.body == b"hidden?"
    listing = raw_request(gateway.port, "GET", f"/2.0/directories/inbox?filter={name}".encode(), session=alice)
    assert [e["name"] for e in listing.json()["elements"]] == [name]
