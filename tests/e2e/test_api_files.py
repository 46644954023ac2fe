"""The /2.0 partner API end to end: PUT / POST / GET / DELETE /2.0/files/<path>."""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e.harness import Curl, Gateway, assert_envelope
from tests.e2e.test_api import (
    NO_FILENAME,
    SYNTAX,
    Sessions,
    assert_ok,
    count,
    file_path,
    listing,
    local_file,
    names,
    put_file,
    read_metadata,
    unique,
    upload,
)

DELETE_SYNTAX = "missing param or syntax error"


@pytest.fixture(scope="module")
def users(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Sessions:
    return Sessions(gateway, tmp_path_factory.mktemp("jars"))


@pytest.fixture
def alice(users: Sessions) -> Curl:
    return users["alice"]


# --------------------------------------------------------------------------- PUT


def test_put_new_file_returns_201_with_fileset(alice: Curl, tmp_path: Path) -> None:
    name = unique("put-new") + ".txt"
    src = local_file(tmp_path, "local-name.txt", b"hello put")
    result = alice("-X", "PUT", "-F", f"file=@{src}", path=file_path("inbox", name))
    assert result.body.startswith(b'{"result":"ok","timestamp":"'), result.body  # key order as documented
    fileset = assert_ok(result, 201, "Upload successful")
    got = alice(path=file_path("inbox", name))
    assert got.status == 200 and got.body == b"hello put"
    elements = listing(alice, "inbox", filter=name)["elements"]
    assert [(e["name"], e["fileset"], e["size"]) for e in elements] == [(name, fileset, "9")]


def test_put_two_files_returns_distinct_filesets(alice: Curl, tmp_path: Path) -> None:
    first = upload(alice, tmp_path, "inbox", unique("put-a") + ".txt")
    second = upload(alice, tmp_path, "inbox", unique("put-b") + ".txt")
    assert first != second


def test_put_empty_file_returns_201_and_downloads_empty(alice: Curl, tmp_path: Path) -> None:
    name = unique("put-empty") + ".bin"
    upload(alice, tmp_path, "inbox", name, b"")
    got = alice(path=file_path("inbox", name))
    assert got.status == 200 and got.body == b"" and got.headers["content-length"] == "0"


@pytest.mark.parametrize(
    "path", ["/2.0/files/http_api/", "/2.0/files/http_api", "/2.0/files/", "/2.0/files/inbox/archive"]
)
def test_put_folder_only_returns_400_no_filename(gateway: Gateway, alice: Curl, tmp_path: Path, path: str) -> None:
    before, stored = listing(alice, "http_api"), gateway.storage_files()
    src = local_file(tmp_path, unique("folder-only") + ".txt", b"x")
    assert_envelope(alice("-X", "PUT", "-F", f"file=@{src}", path=path), 400, "request_syntax", NO_FILENAME)
    assert listing(alice, "http_api")["elements"] == before["elements"]
    assert gateway.storage_files() == stored
    assert count(alice, "", type="files").body == b"0"


@pytest.mark.parametrize(
    "args",
    [
        ("--data-binary", "@{src}", "-H", "Content-Type: application/octet-stream"),
        ("--data-binary", "@{src}", "-H", "Content-Type: text/plain"),
        ("-d", "file=hello"),  # a urlencoded form
        ("-F", "other=@{src}"),  # multipart without a `file` part
        ("-F", "metadata={{}}"),
        ("--data-binary", "not a multipart body", "-H", "Content-Type: multipart/form-data; boundary=XYZ"),
        ("--data-binary", "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc",
         "-H", "Content-Type: multipart/form-data; boundary=XYZ"),  # cut before the closing boundary
        ("--data-binary", "@{src}", "-H", "Content-Type: multipart/form-data"),  # no boundary
        ("-X", "PUT"),  # no body at all
    ],
    ids=["octet-stream", "text-plain", "urlencoded", "no-file-part", "metadata-only", "garbage", "truncated",
         "no-boundary", "no-body"],
)  # fmt: skip
def test_put_not_multipart_file_returns_400_syntax(
    gateway: Gateway, alice: Curl, tmp_path: Path, args: tuple[str, ...]
) -> None:
    name = unique("bad-body") + ".txt"
    src = local_file(tmp_path, name, b"content")
    stored = gateway.storage_files()
    result = alice("-X", "PUT", *(a.format(src=src) for a in args), path=file_path("http_api", name))
    assert_envelope(result, 400, "request_syntax", SYNTAX)
    assert names(alice, "http_api", name) == []
    assert gateway.storage_files() == stored


@pytest.mark.parametrize(
    ("folder", "shown"), [("nope", "nope"), ("inbox/nope", "inbox/nope"), ("nope/deeper", "nope/deeper")]
)
def test_put_missing_folder_returns_404(gateway: Gateway, alice: Curl, tmp_path: Path, folder: str, shown: str) -> None:
    stored = gateway.storage_files()
    result = put_file(alice, tmp_path, folder, "a.txt", b"x")
    assert_envelope(result, 404, "io", f"Path '{shown}' doesn't exist")
    assert gateway.storage_files() == stored
    assert_envelope(count(alice, folder), 404, "io", "Path doesn't exist")  # uploads do not create folders


@pytest.mark.parametrize(
    ("user", "folder"), [("bob", "outbox"), ("bob", "inbox"), ("carol", "outbox"), ("dave", "outbox")]
)
def test_put_without_upload_permission_returns_403(
    gateway: Gateway, users: Sessions, tmp_path: Path, user: str, folder: str
) -> None:
    name = unique(f"put-{user}") + ".txt"
    stored = gateway.storage_files()
    assert_envelope(put_file(users[user], tmp_path, folder, name, b"x"), 403, "authorization", "No write permission")
    assert names(users["alice"], folder, name) == []
    assert gateway.storage_files() == stored


def test_put_upload_only_user_returns_201(users: Sessions, tmp_path: Path) -> None:
    name = unique("carol-put") + ".txt"
    fileset = upload(users["carol"], tmp_path, "inbox", name, b"from carol")
    got = users["alice"](path=file_path("inbox", name))
    assert got.status == 200 and got.body == b"from carol"
    assert [e["fileset"] for e in listing(users["alice"], "inbox", filter=name)["elements"]] == [fileset]


def test_put_existing_name_replaces_file(gateway: Gateway, alice: Curl, tmp_path: Path) -> None:
    name = unique("replace") + ".txt"
    first = upload(alice, tmp_path, "inbox", name, b"version one")
    stored = len(gateway.storage_files())
    second = upload(alice, tmp_path, "inbox", name, b"version two!")
    assert second != first
    got = alice(path=file_path("inbox", name))
    assert got.status == 200 and got.body == b"version two!"
    elements = listing(alice, "inbox", filter=name)["elements"]
    assert [(e["name"], e["fileset"], e["size"]) for e in elements] == [(name, second, "12")]
    assert len(gateway.storage_files()) == stored  # the replaced bytes are gone


def test_put_over_file_limit_returns_413_and_creates_nothing(gateway: Gateway, users: Sessions, tmp_path: Path) -> None:
    appuser = users["appuser"]
    name = unique("too-big") + ".bin"
    stored = gateway.storage_files()
    result = put_file(appuser, tmp_path, "in", name, b"x" * (1024 * 1024 + 1))
    assert_envelope(result, 413, "limit")
    assert names(appuser, "in", name) == []
    assert gateway.storage_files() == stored
    upload(appuser, tmp_path, "in", name, b"x" * 1024)  # under the limit is fine


def test_put_contract_with_metadata_attaches_it(users: Sessions, tmp_path: Path) -> None:
    appuser = users["appuser"]
    name = unique("app-put") + ".txt"
    upload(appuser, tmp_path, "in", name)
    assert read_metadata(appuser, "in", name)["Partner"] == "AppB"
    other = unique("no-partner") + ".txt"
    upload(users["alice"], tmp_path, "inbox", other)  # PartnerA's contract attaches nothing
    assert "Partner" not in read_metadata(users["alice"], "inbox", other)


# --------------------------------------------------------------------------- POST (upload with metadata)

METADATA = '{"QUEUE_NAME":"QUEUE1","CORRELATION_ID":"invoices.xlsx"}'


def test_post_to_folder_names_file_after_local_file(alice: Curl, tmp_path: Path) -> None:
    name = unique("post-folder") + ".txt"
    src = local_file(tmp_path, name, b"posted")
    result = alice("-F", f"file=@{src}", "-F", f"metadata={METADATA}", path="/2.0/files/httpapi")
    fileset = assert_ok(result, 201, "Upload successful")
    assert [e["fileset"] for e in listing(alice, "httpapi", filter=name)["elements"]] == [fileset]
    got = alice(path=file_path("httpapi", name))
    assert got.status == 200 and got.body == b"posted"
    values = read_metadata(alice, "httpapi", name)
    assert values["correlationId"] == "invoices.xlsx" and values["QUEUE_NAME"] == "QUEUE1", values


def test_post_to_folder_with_trailing_slash_names_file_after_local_file(alice: Curl, tmp_path: Path) -> None:
    name = unique("post-slash") + ".txt"
    src = local_file(tmp_path, name, b"posted")
    assert_ok(alice("-F", f"file=@{src}", path="/2.0/files/httpapi/"), 201, "Upload successful")
    assert names(alice, "httpapi", name) == [name]


def test_post_to_file_path_names_file_after_last_segment(alice: Curl, tmp_path: Path) -> None:
    local, name = unique("post-local") + ".txt", unique("other") + ".txt"
    src = local_file(tmp_path, local, b"other content")
    result = alice("-F", f"file=@{src}", "-F", f"metadata={METADATA}", path=file_path("httpapi", name))
    fileset = assert_ok(result, 201, "Upload successful")
    assert names(alice, "httpapi", name) == [name] and names(alice, "httpapi", local) == []
    assert listing(alice, "httpapi", filter=name)["elements"][0]["fileset"] == fileset
    values = read_metadata(alice, "httpapi", name)
    assert values["correlationId"] == "invoices.xlsx" and values["QUEUE_NAME"] == "QUEUE1", values


@pytest.mark.parametrize("stem", ["Příloha", "résumé"], ids=["beyond-latin1", "latin1"])
def test_post_to_folder_with_non_ascii_local_name_names_file_after_it(alice: Curl, tmp_path: Path, stem: str) -> None:
    """curl puts the local name, UTF-8 encoded, into the part's ``filename="..."``."""
    name = unique(stem) + ".txt"
    src = local_file(tmp_path, name, b"named")
    assert_ok(alice("-F", f"file=@{src}", path="/2.0/files/httpapi"), 201, "Upload successful")
    canonical = unicodedata.normalize("NFC", name)
    assert names(alice, "httpapi", canonical) == [canonical]
    got = alice(path=file_path("httpapi", canonical))
    assert got.status == 200 and got.body == b"named"


def test_put_with_non_ascii_local_name_returns_201(alice: Curl, tmp_path: Path) -> None:
    """PUT names the file after the URL; the part's filename (here non-Latin-1) must not matter."""
    name = unique("put-local") + ".txt"
    src = local_file(tmp_path, "Příloha 请求.txt", b"any local name")
    assert_ok(alice("-X", "PUT", "-F", f"file=@{src}", path=file_path("inbox", name)), 201, "Upload successful")
    assert alice(path=file_path("inbox", name)).body == b"any local name"


def test_post_without_metadata_returns_201(alice: Curl, tmp_path: Path) -> None:
    name = unique("post-plain") + ".txt"
    src = local_file(tmp_path, name, b"plain")
    assert_ok(alice("-F", f"file=@{src}", path="/2.0/files/httpapi"), 201, "Upload successful")
    assert read_metadata(alice, "httpapi", name)["correlationId"] == ""


@pytest.mark.parametrize(
    "metadata",
    ["not json", '["QUEUE1"]', '"QUEUE1"', "42", '{"A":{"B":"C"}}', '{"A":["B"]}', '{"A":"B"'],
    ids=["not-json", "array", "string", "number", "nested-object", "nested-array", "truncated"],
)
def test_post_invalid_metadata_returns_400_and_creates_nothing(
    gateway: Gateway, alice: Curl, tmp_path: Path, metadata: str
) -> None:
    name = unique("post-badmd") + ".txt"
    src = local_file(tmp_path, name, b"x")
    stored = gateway.storage_files()
    result = alice("-F", f"file=@{src}", "--form-string", f"metadata={metadata}", path="/2.0/files/httpapi")
    assert_envelope(result, 400, "request_syntax", SYNTAX)
    assert names(alice, "httpapi", name) == []
    assert gateway.storage_files() == stored


@pytest.mark.parametrize(
    "filename", ["../escape.txt", "..", "sub/dir.txt", "a\\b.txt"], ids=["dot-dot", "parent", "slash", "backslash"]
)
def test_post_to_folder_with_path_in_part_filename_returns_400(
    gateway: Gateway, alice: Curl, tmp_path: Path, filename: str
) -> None:
    """A hand-made ``filename="../x"`` never places a file outside the folder (or anywhere)."""
    src = local_file(tmp_path, "harmless.txt", b"x")
    stored = gateway.storage_files()
    result = alice("-F", f'file=@{src};filename="{filename}"', path="/2.0/files/httpapi/")
    assert_envelope(result, 400, "request_syntax")
    assert gateway.storage_files() == stored
    assert count(alice, "", type="files").body == b"0" and names(alice, "httpapi", "*escape*") == []


def test_post_to_folder_with_part_filename_of_a_subfolder_returns_400_no_filename(
    gateway: Gateway, alice: Curl, tmp_path: Path
) -> None:
    src = local_file(tmp_path, "archive", b"x")
    stored = gateway.storage_files()
    assert_envelope(alice("-F", f"file=@{src}", path="/2.0/files/inbox"), 400, "request_syntax", NO_FILENAME)
    assert gateway.storage_files() == stored
    assert listing(alice, "inbox", filter="archive")["elements"] == [{"name": "archive", "type": "folder"}]


def test_post_without_file_part_returns_400(gateway: Gateway, alice: Curl) -> None:
    stored = gateway.storage_files()
    result = alice("--form-string", f"metadata={METADATA}", path="/2.0/files/httpapi")
    assert_envelope(result, 400, "request_syntax", SYNTAX)
    assert gateway.storage_files() == stored


def test_post_to_folder_without_part_filename_returns_400_no_filename(gateway: Gateway, alice: Curl) -> None:
    stored = gateway.storage_files()
    result = alice("-F", "file=just a field", path="/2.0/files/httpapi")
    assert_envelope(result, 400, "request_syntax", NO_FILENAME)
    assert gateway.storage_files() == stored


def test_post_missing_folder_returns_404(alice: Curl, tmp_path: Path) -> None:
    src = local_file(tmp_path, "a.txt", b"x")
    result = alice("-F", f"file=@{src}", "-F", f"metadata={METADATA}", path="/2.0/files/nope/a.txt")
    assert_envelope(result, 404, "io", "Path 'nope' doesn't exist")


def test_post_without_upload_permission_returns_403(users: Sessions, tmp_path: Path) -> None:
    name = unique("bob-post") + ".txt"
    src = local_file(tmp_path, name, b"x")
    result = users["bob"]("-F", f"file=@{src}", "-F", f"metadata={METADATA}", path="/2.0/files/outbox")
    assert_envelope(result, 403, "authorization", "No write permission")
    assert names(users["alice"], "outbox", name) == []


def test_post_contract_with_metadata_attaches_it_beside_posted_keys(users: Sessions, tmp_path: Path) -> None:
    appuser = users["appuser"]
    name = unique("app-post") + ".txt"
    src = local_file(tmp_path, name, b"x")
    assert_ok(
        appuser("-F", f"file=@{src}", "-F", f"metadata={METADATA}", path="/2.0/files/in"), 201, "Upload successful"
    )
    values = read_metadata(appuser, "in", name)
    assert values["Partner"] == "AppB" and values["QUEUE_NAME"] == "QUEUE1", values
    assert values["correlationId"] == "invoices.xlsx"


# --------------------------------------------------------------------------- GET (download)

CONTENT = b"0123456789abcdefghij"


def test_get_existing_file_returns_bytes_and_headers(alice: Curl, tmp_path: Path) -> None:
    name = unique("dl") + ".txt"
    fileset = upload(alice, tmp_path, "inbox", name, CONTENT)
    got = alice(path=file_path("inbox", name))
    assert got.status == 200 and got.body == CONTENT
    assert got.headers["content-type"].startswith("text/plain"), got.headers
    assert got.headers["content-length"] == str(len(CONTENT))
    assert got.headers["content-disposition"] == f'attachment; filename="{name}"'
    digest = base64.b64encode(hashlib.sha256(CONTENT).digest()).decode()
    assert got.headers["repr-digest"] == f"sha-256=:{digest}:"
    etag = got.headers["etag"]
    assert len(etag) > 2 and etag.startswith('"') and etag.endswith('"'), etag
    again = alice(path=file_path("inbox", name))
    assert again.headers["etag"] == etag
    assert listing(alice, "inbox", filter=name)["elements"][0]["fileset"] == fileset


@pytest.mark.parametrize(
    ("suffix", "form", "expected"),
    [
        (".json", "", "application/json"),  # curl sends octet-stream: detected from the name
        (".qqqq", "", "application/octet-stream"),
        (".bin", ";type=application/x-custom", "application/x-custom"),  # the stored datatype wins
    ],
    ids=["detected", "fallback", "stored"],
)
def test_get_content_type_is_stored_else_detected_else_octet_stream(
    alice: Curl, tmp_path: Path, suffix: str, form: str, expected: str
) -> None:
    name = unique("ctype") + suffix
    src = local_file(tmp_path, name, b"{}")
    assert alice("-X", "PUT", "-F", f"file=@{src}{form}", path=file_path("inbox", name)).status == 201
    got = alice(path=file_path("inbox", name))
    assert got.status == 200 and got.headers["content-type"].split(";")[0] == expected, got.headers
    assert read_metadata(alice, "inbox", name)["datatype"].split(";")[0] == expected


@pytest.mark.parametrize("stem", ["résumé", 'say "hi"', "Příloha"], ids=["latin1", "quote", "beyond-latin1"])
def test_get_non_ascii_name_adds_rfc6266_filename_star(alice: Curl, tmp_path: Path, stem: str) -> None:
    name = unique(stem) + ".txt"
    upload(alice, tmp_path, "inbox", name, b"cv")
    got = alice(path=file_path("inbox", name))
    assert got.status == 200 and got.body == b"cv"
    disposition = got.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="'), disposition
    assert f"filename*=UTF-8''{quote(name, safe='')}" in disposition, disposition
    assert names(alice, "inbox", name) == [name]


def test_get_nfd_spelled_name_returns_nfc_file(alice: Curl, tmp_path: Path) -> None:
    name = unique("café") + ".txt"
    result = put_file(alice, tmp_path, "inbox", unicodedata.normalize("NFD", name), b"nfc")  # ASCII local name
    assert_ok(result, 201, "Upload successful")
    got = alice(path=file_path("inbox", unicodedata.normalize("NFC", name)))
    assert got.status == 200 and got.body == b"nfc"
    assert names(alice, "inbox", unicodedata.normalize("NFC", name)) == [unicodedata.normalize("NFC", name)]


def test_get_head_request_leaves_first_read_date_empty(users: Sessions, tmp_path: Path) -> None:
    """``curl -I`` (a partner checking size before fetching) transfers no content: it must not set
    firstReadDate, which starts the after-first-get retention clock (AppB: 2 h)."""
    appuser = users["appuser"]
    name = unique("head") + ".txt"
    upload(appuser, tmp_path, "out", name, CONTENT)
    head = appuser("-I", path=file_path("out", name))
    assert head.status == 200 and head.headers["content-length"] == str(len(CONTENT))  # curl -I prints headers
    assert read_metadata(appuser, "out", name)["firstReadDate"] == ""


def test_get_missing_file_returns_404(alice: Curl) -> None:
    assert_envelope(alice(path="/2.0/files/inbox/x.txt"), 404, "io", "File 'x.txt' doesn't exist")


@pytest.mark.parametrize(("folder", "shown"), [("nope", "nope"), ("inbox/nope", "inbox/nope")])
def test_get_missing_folder_returns_404(alice: Curl, folder: str, shown: str) -> None:
    assert_envelope(alice(path=f"/2.0/files/{folder}/a.txt"), 404, "io", f"Path '{shown}' doesn't exist")


@pytest.mark.parametrize(("user", "folder"), [("carol", "inbox"), ("dave", "outbox"), ("bob", "inbox")])
def test_get_without_download_permission_returns_403(users: Sessions, tmp_path: Path, user: str, folder: str) -> None:
    name = unique(f"noread-{user}") + ".txt"
    upload(users["alice"], tmp_path, folder, name)
    assert_envelope(users[user](path=file_path(folder, name)), 403, "authorization", "No read permission")
    assert read_metadata(users["alice"], folder, name)["firstReadDate"] == ""  # not a read


def test_get_with_download_permission_returns_200(users: Sessions, tmp_path: Path) -> None:
    name = unique("bob-read") + ".txt"
    upload(users["alice"], tmp_path, "outbox", name, b"for bob")
    got = users["bob"](path=file_path("outbox", name))
    assert got.status == 200 and got.body == b"for bob"


@pytest.mark.parametrize("path", ["/2.0/files/inbox/", "/2.0/files/inbox", "/2.0/files/", "/2.0/files/inbox/archive/"])
def test_get_folder_returns_400_no_filename(alice: Curl, path: str) -> None:
    assert_envelope(alice(path=path), 400, "request_syntax", NO_FILENAME)


@pytest.fixture
def ranged(alice: Curl, tmp_path: Path) -> str:
    name = unique("range") + ".bin"
    upload(alice, tmp_path, "inbox", name, CONTENT)
    return file_path("inbox", name)


@pytest.mark.parametrize(
    ("args", "body", "span"),
    [
        (("-r", "0-9"), b"0123456789", "0-9"),
        (("-H", "Range: bytes=10-14"), b"abcde", "10-14"),
        (("-H", "Range: bytes=15-"), b"fghij", "15-19"),
        (("-H", "Range: bytes=-5"), b"fghij", "15-19"),  # suffix
        (("-H", "Range: bytes=10-1000"), b"abcdefghij", "10-19"),
        (("-H", "Range: bytes=-100"), CONTENT, "0-19"),
        (("-C", "12"), b"cdefghij", "12-19"),  # curl's resume
    ],
    ids=["first-ten", "middle", "open-end", "suffix", "past-end", "long-suffix", "resume"],
)
def test_get_range_returns_206_partial_content(
    alice: Curl, ranged: str, args: tuple[str, ...], body: bytes, span: str
) -> None:
    got = alice(*args, path=ranged)
    assert got.status == 206 and got.body == body, (got.status, got.body)
    assert got.headers["content-range"] == f"bytes {span}/{len(CONTENT)}"
    assert got.headers["content-length"] == str(len(body))


@pytest.mark.parametrize(
    "args",
    [("-H", "Range: bytes=20-30"), ("-H", "Range: bytes=100-"), ("-H", "Range: bytes=-0"), ("-C", "20")],
    ids=["past-end", "open-past-end", "empty-suffix", "resume-complete"],
)
def test_get_unsatisfiable_range_returns_416(alice: Curl, ranged: str, args: tuple[str, ...]) -> None:
    got = alice(*args, path=ranged)
    assert got.status == 416
    assert got.headers["content-range"] == f"bytes */{len(CONTENT)}"
    if args[0] == "-C":
        # curl takes a 416 on resume as "already complete": it exits 0 and drops the body.
        assert got.returncode == 0 and got.body == b""
    else:
        assert_envelope(got, 416, "request_syntax")


def test_get_if_range_with_stale_etag_returns_whole_file(alice: Curl, ranged: str) -> None:
    etag = alice(path=ranged).headers["etag"]
    same = alice("-H", "Range: bytes=10-", "-H", f"If-Range: {etag}", path=ranged)
    assert same.status == 206 and same.body == CONTENT[10:]
    stale = alice("-H", "Range: bytes=10-", "-H", 'If-Range: "stale"', path=ranged)
    assert stale.status == 200 and stale.body == CONTENT


# --------------------------------------------------------------------------- DELETE


def test_delete_existing_file_returns_200_and_removes_it(gateway: Gateway, alice: Curl, tmp_path: Path) -> None:
    name = unique("del") + ".txt"
    fileset = upload(alice, tmp_path, "inbox", name)
    stored = len(gateway.storage_files())
    result = alice("-X", "DELETE", path=file_path("inbox", name))
    assert result.body.startswith(b'{"result":"ok","timestamp":"'), result.body
    assert_ok(result, 200, "File deleted", fileset)
    assert names(alice, "inbox", name) == []
    assert_envelope(alice(path=file_path("inbox", name)), 404, "io", f"File '{name}' doesn't exist")
    assert_envelope(alice(path=file_path("inbox", name, "metadata")), 404, "io", f"File '{name}' doesn't exist")
    assert_envelope(alice("-X", "DELETE", path=file_path("inbox", name)), 404, "io", f"File '{name}' doesn't exist")
    assert len(gateway.storage_files()) == stored - 1


def test_delete_with_delete_permission_returns_200(users: Sessions, tmp_path: Path) -> None:
    name = unique("dave-del") + ".txt"
    fileset = upload(users["alice"], tmp_path, "outbox", name)
    assert_ok(users["dave"]("-X", "DELETE", path=file_path("outbox", name)), 200, "File deleted", fileset)
    assert names(users["alice"], "outbox", name) == []


@pytest.mark.parametrize(("user", "folder"), [("bob", "outbox"), ("carol", "inbox"), ("dave", "inbox")])
def test_delete_without_delete_permission_returns_403(users: Sessions, tmp_path: Path, user: str, folder: str) -> None:
    name = unique(f"nodel-{user}") + ".txt"
    fileset = upload(users["alice"], tmp_path, folder, name, b"keep me")
    result = users[user]("-X", "DELETE", path=file_path(folder, name))
    assert_envelope(result, 403, "authorization", "No delete permission")
    assert [e["fileset"] for e in listing(users["alice"], folder, filter=name)["elements"]] == [fileset]


def test_delete_missing_file_returns_404(alice: Curl) -> None:
    assert_envelope(alice("-X", "DELETE", path="/2.0/files/inbox/x.txt"), 404, "io", "File 'x.txt' doesn't exist")


@pytest.mark.parametrize(("folder", "shown"), [("nope", "nope"), ("outbox/nope", "outbox/nope")])
def test_delete_missing_folder_returns_404(alice: Curl, folder: str, shown: str) -> None:
    result = alice("-X", "DELETE", path=f"/2.0/files/{folder}/a.txt")
    assert_envelope(result, 404, "io", f"Path '{shown}' doesn't exist")


@pytest.mark.parametrize(
    "path", ["/2.0/files/inbox/archive", "/2.0/files/inbox/", "/2.0/files/http_api", "/2.0/files/"]
)
def test_delete_folder_returns_400_syntax_error(alice: Curl, tmp_path: Path, path: str) -> None:
    name = unique("survivor") + ".txt"
    upload(alice, tmp_path, "inbox/archive", name)
    assert_envelope(alice("-X", "DELETE", path=path), 400, "syntax_error", DELETE_SYNTAX)  # as documented
    assert names(alice, "inbox/archive", name) == [name]
    assert count(alice, "inbox/archive").status == 200
