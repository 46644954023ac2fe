"""The /2.0 partner API end to end, driven by curl as partner scripts drive it.

This module holds the helpers shared by every ``test_api*`` module and covers login, sessions,
connection contracts, logout, routing and path validation. Uploads, downloads and deletes are
in ``test_api_files.py``; metadata, countelements and directories in ``test_api_listing.py``.
Each module gets its own gateway (per catalog backend), so folders are shared only by the tests
of one module: every test uses file names of its own (:func:`unique`).
"""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.harness import Curl, CurlResult, Gateway, assert_envelope, password

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
USR, SES = "sp-http-usr", "sp-http-ses"
BAD_SESSION = "Invalid username or password"
NO_CONTRACT = "Connection contract not configured"
SYNTAX = "Missing parameters or syntax error"
NO_FILENAME = "No filename specified"
SYSTEM_ATTRIBUTES = (
    "dstFileName",
    "size",
    "correlationId",
    "putDate",
    "firstReadDate",
    "lastModifiedTime",
    "lastAccessTime",
    "creationTime",
    "datatype",
    "description",
)


# --------------------------------------------------------------------------- shared helpers


def unique(label: str) -> str:
    """A file name stem no other test uses."""
    return f"{label}-{uuid.uuid4().hex[:8]}"


def file_path(folder: str, name: str, endpoint: str = "files") -> str:
    """``/2.0/<endpoint>/<folder>/<name>`` with the name URL-encoded."""
    return f"/2.0/{endpoint}/{folder}/{quote(name, safe='')}"


def local_file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "local" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def assert_ok(result: CurlResult, status: int, message: str, fileset: str | None = None) -> str:
    """The body is exactly ``{"result":"ok","timestamp","message","fileset"}``; returns fileset."""
    body = result.json()
    assert result.status == status, (result.status, body)
    assert set(body) == {"result", "timestamp", "message", "fileset"}, body
    assert body["result"] == "ok" and body["message"] == message, body
    assert TIMESTAMP.match(body["timestamp"]), body
    assert isinstance(body["fileset"], str) and body["fileset"].isdigit(), body
    if fileset is not None:
        assert body["fileset"] == fileset, body
    return str(body["fileset"])


def put_file(curl: Curl, tmp_path: Path, folder: str, name: str, data: bytes, *extra: str) -> CurlResult:
    """PUT ``data`` as ``folder/name`` (multipart part ``file``), as a partner script does."""
    src = local_file(tmp_path, uuid.uuid4().hex, data)
    return curl("-X", "PUT", "-F", f"file=@{src}", *extra, path=file_path(folder, name))


def upload(curl: Curl, tmp_path: Path, folder: str, name: str, data: bytes = b"data") -> str:
    """PUT a file that must be accepted; returns its fileset.

    The local file gets an ASCII name with the same extension (curl derives the part's
    Content-Type from it); PUT names the file after the URL.
    """
    src = local_file(tmp_path, uuid.uuid4().hex + Path(name).suffix, data)
    return assert_ok(curl("-X", "PUT", "-F", f"file=@{src}", path=file_path(folder, name)), 201, "Upload successful")


def listing(curl: Curl, folder: str, **query: str) -> dict[str, Any]:
    """GET /2.0/directories/<folder> with URL-encoded query parameters; must answer 200."""
    args = ["-g", "-G"]
    for key, value in query.items():
        args += ["--data-urlencode", f"{key}={value}"]
    result = curl(*args, path=f"/2.0/directories/{folder}")
    assert result.status == 200, (result.status, result.body)
    body: dict[str, Any] = result.json()
    return body


def names(curl: Curl, folder: str, pattern: str = "*") -> list[str]:
    return [e["name"] for e in listing(curl, folder, filter=pattern)["elements"]]


def count(curl: Curl, folder: str, **query: str) -> CurlResult:
    args = ["-g", "-G"]
    for key, value in query.items():
        args += ["--data-urlencode", f"{key}={value}"]
    return curl(*args, path=f"/2.0/countelements/{folder}")


def read_metadata(curl: Curl, folder: str, name: str) -> dict[str, str]:
    result = curl(path=file_path(folder, name, "metadata"))
    assert result.status == 200, (result.status, result.body)
    values: dict[str, str] = result.json()["metadata"]
    return values


def raw_headers(curl: Curl) -> list[tuple[str, str]]:
    """Every header line of the last response, duplicates kept (``CurlResult.headers`` folds them)."""
    lines = curl.jar.with_suffix(".headers").read_text(errors="replace").splitlines()
    headers: list[tuple[str, str]] = []
    for line in lines:
        if line.startswith("HTTP/"):
            headers = []
        elif ":" in line:
            key, _, value = line.partition(":")
            headers.append((key.strip().lower(), value.strip()))
    return headers


def jar_cookies(curl: Curl) -> dict[str, str]:
    """The cookies curl keeps in its (Netscape format) jar."""
    if not curl.jar.exists():
        return {}
    cookies = {}
    for line in curl.jar.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) == 7 and (not line.startswith("#") or line.startswith("#HttpOnly_")):
            cookies[fields[5]] = fields[6]
    return cookies


def curl_with_cookies(gateway: Gateway, tmp_path: Path, cookies: dict[str, str]) -> Curl:
    """A curl script whose jar holds exactly ``cookies`` (as if its jar file had been edited)."""
    jar = tmp_path / f"jar-{uuid.uuid4().hex}.txt"
    lines = ["# Netscape HTTP Cookie File"]
    lines += [f"#HttpOnly_{gateway.host}\tFALSE\t/\tFALSE\t0\t{k}\t{v}" for k, v in cookies.items()]
    jar.write_text("\n".join(lines) + "\n")
    return Curl(gateway, jar)


class Sessions:
    """Logged-in curl scripts, one cookie jar per user, shared by the tests of one module."""

    def __init__(self, gateway: Gateway, directory: Path) -> None:
        self.gateway = gateway
        self.directory = directory
        self._curls: dict[str, Curl] = {}

    def __getitem__(self, user: str) -> Curl:
        if user not in self._curls:
            curl = Curl(self.gateway, self.directory / f"{user}.txt")
            result = curl.login(user)
            assert result.status == 200, result.body
            self._curls[user] = curl
        return self._curls[user]


# Every endpoint that needs a session and a connection contract, as a partner script calls it.
FILE_ENDPOINTS = (
    "PUT files",
    "POST files",
    "GET files",
    "DELETE files",
    "GET metadata",
    "GET meadata",
    "POST metadata",
    "GET countelements",
    "GET directories",
    "GET countelements root",
    "GET directories root",
)


def call_endpoint(curl: Curl, endpoint: str, folder: str, src: Path) -> CurlResult:
    """Call ``endpoint`` on ``folder/<src.name>`` (uploads send ``src``)."""
    name = src.name
    if endpoint == "PUT files":
        return curl("-X", "PUT", "-F", f"file=@{src}", path=file_path(folder, name))
    if endpoint == "POST files":
        return curl("-F", f"file=@{src}", "-F", 'metadata={"K":"V"}', path=f"/2.0/files/{folder}")
    if endpoint == "GET files":
        return curl(path=file_path(folder, name))
    if endpoint == "DELETE files":
        return curl("-X", "DELETE", path=file_path(folder, name))
    if endpoint == "GET metadata":
        return curl(path=file_path(folder, name, "metadata"))
    if endpoint == "GET meadata":
        return curl(path=file_path(folder, name, "meadata"))
    if endpoint == "POST metadata":
        return curl("-H", "Content-Type: application/json", "-d", '{"K":"V"}', path=file_path(folder, name, "metadata"))
    if endpoint == "GET countelements":
        return curl(path=f"/2.0/countelements/{folder}")
    if endpoint == "GET directories":
        return curl(path=f"/2.0/directories/{folder}")
    if endpoint == "GET countelements root":
        return curl(path="/2.0/countelements/")
    if endpoint == "GET directories root":
        return curl(path="/2.0/directories/")
    raise AssertionError(endpoint)


@pytest.fixture(scope="module")
def users(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Sessions:
    return Sessions(gateway, tmp_path_factory.mktemp("jars"))


def set_cookies(curl: Curl) -> dict[str, tuple[str, set[str]]]:
    """``Set-Cookie`` headers of the last response: name → (value, lower-cased attributes)."""
    cookies: dict[str, tuple[str, set[str]]] = {}
    for key, value in raw_headers(curl):
        if key == "set-cookie":
            first, *attributes = (part.strip() for part in value.split(";"))
            name, _, cookie_value = first.partition("=")
            cookies[name] = (cookie_value, {a.lower() for a in attributes})
    return cookies


# --------------------------------------------------------------------------- login


def test_login_valid_credentials_returns_200_with_both_cookies(curl: Curl) -> None:
    result = curl.login("alice")
    assert result.status == 200 and result.body == b"", (result.status, result.body)
    cookies = set_cookies(curl)
    assert set(cookies) == {USR, SES}, cookies
    assert cookies[USR][0] == "alice"
    for name, (_, attributes) in cookies.items():
        assert "path=/" in attributes and "httponly" in attributes, (name, attributes)
        assert "secure" not in attributes, (name, attributes)  # plain http
        assert any(a.startswith("samesite=") for a in attributes), (name, attributes)
    token = cookies[SES][0]
    assert re.fullmatch(r"[A-Za-z0-9+/_=-]+", token), token
    assert len(base64.urlsafe_b64decode(token.replace("+", "-").replace("/", "_") + "=" * (-len(token) % 4))) >= 16
    assert jar_cookies(curl) == {USR: "alice", SES: token}
    assert count(curl, "inbox").status == 200


def test_login_twice_returns_distinct_sessions_both_valid(gateway: Gateway, tmp_path: Path) -> None:
    first, second = Curl(gateway, tmp_path / "one.txt"), Curl(gateway, tmp_path / "two.txt")
    assert first.login("alice").status == 200 and second.login("alice").status == 200
    assert jar_cookies(first)[SES] != jar_cookies(second)[SES]
    assert count(first, "inbox").status == 200 and count(second, "inbox").status == 200


@pytest.mark.parametrize(
    ("user", "secret"),
    [
        ("alice", "wrong-password"),
        ("alice", password("bob")),
        ("mallory", "whatever"),
        ("Alice", password("alice")),  # names are case-sensitive
        ("eve", password("eve")),  # disabled
    ],
    ids=["wrong-password", "other-users-password", "unknown-user", "wrong-case-user", "disabled-user"],
)
def test_login_invalid_credentials_returns_401(curl: Curl, user: str, secret: str) -> None:
    result = curl.login(user, secret)
    assert_envelope(result, 401, "authentication", BAD_SESSION)
    assert set_cookies(curl) == {} and jar_cookies(curl) == {}


@pytest.mark.parametrize(
    "body",
    ["", "password=x", "username=alice", "username=&password=x", "username=alice&password=", "user=alice&pass=x"],
    ids=["empty-body", "no-username", "no-password", "empty-username", "empty-password", "other-fields"],
)
def test_login_missing_username_or_password_returns_404(curl: Curl, body: str) -> None:
    result = curl("-X", "POST", "-d", body, path="/2.0/login/basic")
    assert_envelope(result, 404, "request_syntax", "No username or password")  # as documented: 404
    assert jar_cookies(curl) == {}


def test_login_wrong_password_returns_json_envelope(curl: Curl) -> None:
    result = curl.login("alice", "wrong")
    assert result.headers["content-type"].startswith("application/json"), result.headers
    assert_envelope(result, 401, "authentication", BAD_SESSION)


# --------------------------------------------------------------------------- sessions


@pytest.fixture(scope="module")
def auth_target(users: Sessions, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A file in /inbox that requests without a valid session must leave alone: (name, fileset)."""
    name = "auth-target.txt"
    return name, upload(users["alice"], tmp_path_factory.mktemp("target"), "inbox", name, b"original")


@pytest.mark.parametrize("endpoint", FILE_ENDPOINTS)
def test_file_endpoint_without_valid_session_returns_401(
    endpoint: str, gateway: Gateway, tmp_path: Path, users: Sessions, auth_target: tuple[str, str]
) -> None:
    name, fileset = auth_target
    src = local_file(tmp_path, name, b"attacker")
    owner = Curl(gateway, tmp_path / "owner.txt")
    assert owner.login("alice").status == 200
    token = jar_cookies(owner)[SES]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    variants = {
        "no cookies": {},
        "forged session": {USR: "alice", SES: secrets.token_urlsafe(32)},
        "tampered session": {USR: "alice", SES: tampered},
        "another user's name": {USR: "bob", SES: token},
        "unknown user's name": {USR: "mallory", SES: token},
        "disabled user's name": {USR: "eve", SES: token},
        "session cookie only": {SES: token},
        "user cookie only": {USR: "alice"},
        "empty session": {USR: "alice", SES: ""},
    }
    failures = {}
    for label, cookies in variants.items():
        result = call_endpoint(curl_with_cookies(gateway, tmp_path, cookies), endpoint, "inbox", src)
        try:
            assert_envelope(result, 401, "authentication", BAD_SESSION)
        except (AssertionError, ValueError):
            failures[label] = (result.status, result.body[:200])
    assert failures == {}
    # The real session still works, and nothing happened to the file.
    assert count(owner, "inbox").status == 200
    alice = users["alice"]
    got = alice(path=file_path("inbox", name))
    assert got.status == 200 and got.body == b"original"
    assert read_metadata(alice, "inbox", name).get("K") is None
    assert [e["fileset"] for e in listing(alice, "inbox", filter=name)["elements"]] == [fileset]


def test_session_cookie_header_returns_200(gateway: Gateway, curl: Curl, tmp_path: Path) -> None:
    assert curl.login("alice").status == 200
    cookies = jar_cookies(curl)
    fresh = Curl(gateway, tmp_path / "empty.txt")
    header = f"Cookie: {USR}={cookies[USR]}; {SES}={cookies[SES]}"
    result = fresh("-H", header, path="/2.0/countelements/inbox")
    assert result.status == 200 and result.body.isdigit(), (result.status, result.body)


# --------------------------------------------------------------------------- connection contracts


@pytest.mark.parametrize("endpoint", FILE_ENDPOINTS)
@pytest.mark.parametrize(
    ("user", "folder"), [("nocontract", "inbox"), ("sam", "in")], ids=["no-contract", "https-only"]
)
def test_file_endpoint_without_contract_for_protocol_returns_401_configuration(
    endpoint: str, user: str, folder: str, curl: Curl, tmp_path: Path
) -> None:
    login = curl.login(user)
    assert login.status == 200 and login.body == b""
    src = local_file(tmp_path, unique("contract") + ".txt", b"x")
    assert_envelope(call_endpoint(curl, endpoint, folder, src), 401, "configuration", NO_CONTRACT)


def test_contract_forwarded_proto_from_untrusted_peer_returns_401_configuration(curl: Curl, tmp_path: Path) -> None:
    """Only 127.0.0.2 is a trusted proxy: a client cannot claim https to reach sam's contract."""
    assert curl.login("sam").status == 200
    src = local_file(tmp_path, "forged-proto.txt", b"x")
    result = curl("-H", "X-Forwarded-Proto: https", "-X", "PUT", "-F", f"file=@{src}", path="/2.0/files/in/x.txt")
    assert_envelope(result, 401, "configuration", NO_CONTRACT)


def test_logout_without_contract_returns_200(curl: Curl) -> None:
    assert curl.login("nocontract").status == 200
    assert curl("-X", "POST", path="/2.0/logout").status == 200
    assert_envelope(count(curl, "inbox"), 401, "authentication", BAD_SESSION)  # no session any more


# --------------------------------------------------------------------------- logout


def test_logout_valid_session_ends_it_server_side(gateway: Gateway, curl: Curl, tmp_path: Path) -> None:
    assert curl.login("alice").status == 200
    stolen = jar_cookies(curl)
    result = curl("-X", "POST", path="/2.0/logout")
    assert result.status == 200, (result.status, result.body)
    assert_envelope(count(curl, "inbox"), 401, "authentication", BAD_SESSION)
    # Replaying the cookies from before the logout does not revive the session.
    replay = curl_with_cookies(gateway, tmp_path, stolen)
    assert_envelope(replay(path="/2.0/directories/inbox"), 401, "authentication", BAD_SESSION)
    # Logging in again works.
    assert curl.login("alice").status == 200
    assert count(curl, "inbox").status == 200


def test_logout_one_session_keeps_the_others(gateway: Gateway, curl: Curl, tmp_path: Path) -> None:
    other = Curl(gateway, tmp_path / "other.txt")
    assert curl.login("alice").status == 200 and other.login("alice").status == 200
    assert curl("-X", "POST", path="/2.0/logout").status == 200
    assert count(other, "inbox").status == 200


def test_logout_without_session_returns_401(curl: Curl) -> None:
    assert_envelope(curl("-X", "POST", path="/2.0/logout"), 401, "authentication", BAD_SESSION)


# --------------------------------------------------------------------------- routing


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "logged-in"])
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/2.0/nothing", 404),
        ("GET", "/2.0/", 404),
        ("GET", "/3.0/files/inbox/a.txt", 404),
        ("PATCH", "/2.0/files/inbox/a.txt", 405),
        ("GET", "/2.0/login/basic", 405),
        ("PUT", "/2.0/directories/inbox", 405),
        ("DELETE", "/2.0/metadata/inbox/a.txt", 405),
    ],
)
def test_route_unknown_or_wrong_method_returns_envelope(
    curl: Curl, method: str, path: str, status: int, logged_in: bool
) -> None:
    if logged_in:
        assert curl.login("alice").status == 200
    result = curl("-X", method, path=path)
    assert_envelope(result, status, "request_syntax")
    assert result.headers["content-type"].startswith("application/json"), result.headers


# --------------------------------------------------------------------------- path validation


@pytest.mark.parametrize(
    "raw",
    [
        "inbox/a%2Fb.txt",  # an encoded separator inside a name
        "inbox/a%5Cb.txt",  # backslash
        "inbox/../outbox/x.txt",
        "inbox/%2e%2e/outbox/x.txt",
        "inbox/./x.txt",
        "inbox//x.txt",
        "inbox/a%00.txt",
        "inbox/a%0A.txt",
        "inbox/%FF.txt",  # not UTF-8
        "inbox/" + "x" * 256,
    ],
    ids=["encoded-slash", "backslash", "dot-dot", "encoded-dot-dot", "dot", "empty-segment", "nul", "newline",
         "not-utf8", "long-segment"],
)  # fmt: skip
def test_path_invalid_returns_400(users: Sessions, raw: str) -> None:
    alice = users["alice"]
    failures = {}
    for method, endpoint, error_type in [
        ("GET", "files", "request_syntax"),
        ("GET", "metadata", "request_syntax"),
        ("GET", "meadata", "request_syntax"),
        ("GET", "directories", "request_syntax"),
        ("GET", "countelements", "request_syntax"),
        ("DELETE", "files", "syntax_error"),  # DELETE's 400 is its own, as documented
    ]:
        result = alice("--path-as-is", "-X", method, path=f"/2.0/{endpoint}/{raw}")
        try:
            assert_envelope(result, 400, error_type)
        except (AssertionError, ValueError):
            failures[f"{method} {endpoint}"] = (result.status, result.body[:120])
    assert failures == {}


def test_path_invalid_upload_returns_400_and_creates_nothing(gateway: Gateway, users: Sessions, tmp_path: Path) -> None:
    alice = users["alice"]
    before = gateway.storage_files()
    src = local_file(tmp_path, "x.txt", b"x")
    for raw in ("inbox/a%2Fb.txt", "inbox/../x.txt", "inbox/%2e%2e"):
        result = alice("--path-as-is", "-X", "PUT", "-F", f"file=@{src}", path=f"/2.0/files/{raw}")
        assert_envelope(result, 400, "request_syntax")
    assert gateway.storage_files() == before
    assert names(alice, "inbox", "*x.txt") == [] and names(alice, "", "x.txt") == []


def test_path_wrong_case_returns_404(users: Sessions, tmp_path: Path) -> None:
    alice = users["alice"]
    name = unique("Case") + ".txt"
    upload(alice, tmp_path, "inbox", name, b"case")
    assert_envelope(alice(path=file_path("inbox", name.lower())), 404, "io", f"File '{name.lower()}' doesn't exist")
    assert_envelope(alice(path=file_path("INBOX", name)), 404, "io", "Path 'INBOX' doesn't exist")
