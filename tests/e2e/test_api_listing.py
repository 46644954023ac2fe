"""The /2.0 partner API end to end: metadata, countelements and directories.

The ``world`` fixture fills ``/deep/a/b`` (and ``/deep/a``) once per module with files of
distinct sizes uploaded in a known order, some downloaded in another order; only the listing
tests read those folders and none writes to them, so counts and orders there are exact.
Metadata tests use /inbox and /outbox with names of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.harness import Curl, Gateway, assert_envelope
from tests.e2e.test_api import (
    NO_FILENAME,
    SYNTAX,
    SYSTEM_ATTRIBUTES,
    TIMESTAMP,
    Sessions,
    assert_ok,
    count,
    file_path,
    listing,
    names,
    read_metadata,
    unique,
    upload,
)

# /deep/a/b, in upload order, with distinct sizes (name, put and size orders all differ).
FILES = (
    ("m_mid.txt", 20),
    ("z_small.txt", 5),
    ("a_large.txt", 40),
    ("inv_1.txt", 12),
    ("inva1.txt", 13),
    ("inv%1.txt", 14),
    ("report.csv", 30),
    ("what?.txt", 6),
    ("whatX.txt", 7),
    ("[x].txt", 8),
    ("x.txt", 9),
    ("INVOICE.TXT", 1),
)
READ_ORDER = ("x.txt", "m_mid.txt", "a_large.txt")  # downloaded in this order
ROOT_FOLDERS = ["deep", "http_api", "httpapi", "inbox", "outbox"]
BY_NAME = sorted(n for n, _ in FILES)  # names sort byte-wise on both catalogs
BY_SIZE = [n for n, _ in sorted(FILES, key=lambda f: f[1])]
BY_PUT = [n for n, _ in FILES]


@dataclass(frozen=True)
class World:
    filesets: dict[str, str]


@pytest.fixture(scope="module")
def users(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Sessions:
    return Sessions(gateway, tmp_path_factory.mktemp("jars"))


@pytest.fixture
def alice(users: Sessions) -> Curl:
    return users["alice"]


@pytest.fixture(scope="module")
def world(users: Sessions, tmp_path_factory: pytest.TempPathFactory) -> World:
    alice, tmp = users["alice"], tmp_path_factory.mktemp("world")
    filesets = {name: upload(alice, tmp, "deep/a/b", name, b"#" * size) for name, size in FILES}
    for name in READ_ORDER:
        assert alice(path=file_path("deep/a/b", name)).status == 200
    for name in ("one.txt", "two.txt"):
        filesets[f"a/{name}"] = upload(alice, tmp, "deep/a", name)
    return World(filesets)


def order(curl: Curl, folder: str, **query: str) -> list[str]:
    return [e["name"] for e in listing(curl, folder, **query)["elements"]]


# --------------------------------------------------------------------------- metadata POST


@pytest.fixture
def target(alice: Curl, tmp_path: Path) -> tuple[str, str]:
    """A fresh file in /inbox: (name, fileset)."""
    name = unique("md") + ".txt"
    return name, upload(alice, tmp_path, "inbox", name, b"metadata target")


def test_metadata_post_json_object_returns_200_and_stores_keys(alice: Curl, target: tuple[str, str]) -> None:
    name, fileset = target
    result = alice(
        "-H", "Content-Type: application/json", "-d", '{"OFFICE":"Accounting","CITY":"London"}',
        path=file_path("inbox", name, "metadata"),
    )  # fmt: skip
    assert_ok(result, 200, "Metadata updated", fileset)
    values = read_metadata(alice, "inbox", name)
    assert values["OFFICE"] == "Accounting" and values["CITY"] == "London", values


def test_metadata_post_again_replaces_posted_keys_only(alice: Curl, target: tuple[str, str]) -> None:
    name, fileset = target
    url = file_path("inbox", name, "metadata")
    json = "Content-Type: application/json"
    assert_ok(alice("-H", json, "-d", '{"OFFICE":"Accounting","CITY":"London"}', path=url), 200, "Metadata updated")
    assert_ok(alice("-H", json, "-d", '{"OFFICE":"Sales","ZIP":"E1"}', path=url), 200, "Metadata updated", fileset)
    values = read_metadata(alice, "inbox", name)
    assert (values["OFFICE"], values["CITY"], values["ZIP"]) == ("Sales", "London", "E1"), values


def test_metadata_post_spazio2_and_scalar_values_returns_200(alice: Curl, target: tuple[str, str]) -> None:
    name, fileset = target
    body = '{"SPFB_SP2_FILE_SYS_MD.X":"x-value","QUEUE_NAME":"Q2","COUNT":3,"FLAG":true}'
    result = alice("-H", "Content-Type: application/json", "-d", body, path=file_path("inbox", name, "metadata"))
    assert_ok(result, 200, "Metadata updated", fileset)
    values = read_metadata(alice, "inbox", name)
    assert values["SPFB_SP2_FILE_SYS_MD.X"] == "x-value" and values["QUEUE_NAME"] == "Q2", values
    assert values["COUNT"] == "3" and values["FLAG"] == "true", values


def test_metadata_post_writable_system_attributes_returns_200_and_sets_them(
    alice: Curl, target: tuple[str, str]
) -> None:
    name, _ = target
    url = file_path("inbox", name, "metadata")
    body = '{"description":"Quarterly","dstFileName":"final.xlsx","datatype":"application/vnd.ms-excel"}'
    assert_ok(alice("-H", "Content-Type: application/json", "-d", body, path=url), 200, "Metadata updated")
    values = read_metadata(alice, "inbox", name)
    assert values["description"] == "Quarterly" and values["dstFileName"] == "final.xlsx", values
    assert values["datatype"] == "application/vnd.ms-excel"
    body = '{"CORRELATION_ID":"corr-42"}'  # the Spazio2 upload key sets correlationId
    assert_ok(alice("-H", "Content-Type: application/json", "-d", body, path=url), 200, "Metadata updated")
    assert read_metadata(alice, "inbox", name)["correlationId"] == "corr-42"


@pytest.mark.parametrize(
    "key", ["size", "putDate", "firstReadDate", "lastModifiedTime", "lastAccessTime", "creationTime"]
)
def test_metadata_post_read_only_attribute_returns_400(alice: Curl, target: tuple[str, str], key: str) -> None:
    name, _ = target
    before = read_metadata(alice, "inbox", name)
    body = f'{{"{key}":"2020-01-01T00:00:00.000Z","OFFICE":"x"}}'
    result = alice("-H", "Content-Type: application/json", "-d", body, path=file_path("inbox", name, "metadata"))
    assert_envelope(result, 400, "request_syntax", SYNTAX)
    assert read_metadata(alice, "inbox", name) == before


def test_metadata_post_without_content_type_returns_400(alice: Curl, target: tuple[str, str]) -> None:
    name, _ = target
    result = alice("-H", "Content-Type:", "-d", '{"OFFICE":"x"}', path=file_path("inbox", name, "metadata"))
    assert_envelope(result, 400, "request_syntax", SYNTAX)
    assert "OFFICE" not in read_metadata(alice, "inbox", name)


@pytest.mark.parametrize(
    "body",
    ["not json", '["OFFICE","x"]', '"OFFICE"', "42", "null", '{"OFFICE":{"a":"b"}}', '{"OFFICE":["x"]}', '{"OFFICE":'],
    ids=["not-json", "array", "string", "number", "null", "nested-object", "nested-array", "truncated"],
)
def test_metadata_post_not_an_object_of_scalars_returns_400(alice: Curl, target: tuple[str, str], body: str) -> None:
    name, _ = target
    result = alice("-H", "Content-Type: application/json", "-d", body, path=file_path("inbox", name, "metadata"))
    assert_envelope(result, 400, "request_syntax", SYNTAX)
    assert "OFFICE" not in read_metadata(alice, "inbox", name)


@pytest.mark.parametrize(("user", "folder"), [("bob", "outbox"), ("dave", "outbox"), ("bob", "inbox")])
def test_metadata_post_without_upload_permission_returns_403(
    users: Sessions, tmp_path: Path, user: str, folder: str
) -> None:
    name = unique(f"md-{user}") + ".txt"
    upload(users["alice"], tmp_path, folder, name)
    url = file_path(folder, name, "metadata")
    result = users[user]("-H", "Content-Type: application/json", "-d", '{"OFFICE":"x"}', path=url)
    assert_envelope(result, 403, "authorization", "No write permission")
    assert "OFFICE" not in read_metadata(users["alice"], folder, name)


def test_metadata_post_with_upload_permission_only_returns_200(users: Sessions, tmp_path: Path) -> None:
    name = unique("md-carol") + ".txt"
    fileset = upload(users["carol"], tmp_path, "inbox", name)
    url = file_path("inbox", name, "metadata")
    result = users["carol"]("-H", "Content-Type: application/json", "-d", '{"OFFICE":"x"}', path=url)
    assert_ok(result, 200, "Metadata updated", fileset)
    assert read_metadata(users["alice"], "inbox", name)["OFFICE"] == "x"


@pytest.mark.parametrize(
    ("path", "status", "error_type", "message"),
    [
        ("/2.0/metadata/inbox/x.txt", 404, "io", "File 'x.txt' doesn't exist"),
        ("/2.0/metadata/nope/x.txt", 404, "io", "Path 'nope' doesn't exist"),
        ("/2.0/metadata/inbox/nope/x.txt", 404, "io", "Path 'inbox/nope' doesn't exist"),
        ("/2.0/metadata/inbox/", 400, "request_syntax", NO_FILENAME),
        ("/2.0/metadata/inbox", 400, "request_syntax", NO_FILENAME),
        ("/2.0/metadata/", 400, "request_syntax", NO_FILENAME),
    ],
)
def test_metadata_post_missing_target_returns_error(
    alice: Curl, path: str, status: int, error_type: str, message: str
) -> None:
    result = alice("-H", "Content-Type: application/json", "-d", '{"OFFICE":"x"}', path=path)
    assert_envelope(result, status, error_type, message)


# --------------------------------------------------------------------------- metadata GET


@pytest.mark.parametrize("endpoint", ["metadata", "meadata"])
def test_metadata_get_returns_all_system_attributes_as_strings(alice: Curl, tmp_path: Path, endpoint: str) -> None:
    name = unique(f"get-{endpoint}") + ".txt"
    upload(alice, tmp_path, "inbox", name, b"twelve bytes")
    result = alice(path=file_path("inbox", name, endpoint))
    assert result.status == 200, result.body
    body = result.json()
    assert set(body) - {"result", "timestamp"} == {"metadata"}, body
    values = body["metadata"]
    assert set(SYSTEM_ATTRIBUTES) <= set(values), values
    assert all(isinstance(v, str) for v in values.values()), values
    assert values["size"] == "12" and values["datatype"] == "text/plain", values
    for key in ("putDate", "lastModifiedTime", "creationTime"):
        assert TIMESTAMP.match(values[key]), (key, values)
    for key in ("firstReadDate", "lastAccessTime", "correlationId", "dstFileName", "description"):
        assert values[key] == "", (key, values)


def test_metadata_get_documented_spelling_returns_same_metadata(alice: Curl, target: tuple[str, str]) -> None:
    name, _ = target
    url = file_path("inbox", name, "metadata")
    assert alice("-H", "Content-Type: application/json", "-d", '{"OFFICE":"x"}', path=url).status == 200
    documented = alice(path=file_path("inbox", name, "meadata"))
    assert documented.status == 200
    assert documented.json()["metadata"] == read_metadata(alice, "inbox", name)
    assert documented.json()["metadata"]["OFFICE"] == "x"


def test_metadata_get_after_downloads_returns_read_dates(alice: Curl, target: tuple[str, str]) -> None:
    name, _ = target
    before = read_metadata(alice, "inbox", name)
    assert before["firstReadDate"] == "" and before["lastAccessTime"] == ""
    assert alice(path=file_path("inbox", name)).status == 200
    first = read_metadata(alice, "inbox", name)
    assert TIMESTAMP.match(first["firstReadDate"]) and TIMESTAMP.match(first["lastAccessTime"]), first
    assert first["firstReadDate"] >= first["putDate"]
    assert alice(path=file_path("inbox", name)).status == 200
    second = read_metadata(alice, "inbox", name)
    assert second["firstReadDate"] == first["firstReadDate"]
    assert second["lastAccessTime"] >= first["lastAccessTime"]
    assert second["putDate"] == before["putDate"] and second["size"] == before["size"]


def test_metadata_get_repeated_leaves_first_read_date_empty(alice: Curl, target: tuple[str, str]) -> None:
    name, _ = target
    read_metadata(alice, "inbox", name)
    assert read_metadata(alice, "inbox", name)["firstReadDate"] == ""


@pytest.mark.parametrize(("user", "folder"), [("carol", "inbox"), ("dave", "outbox"), ("bob", "inbox")])
def test_metadata_get_without_download_permission_returns_403(
    users: Sessions, tmp_path: Path, user: str, folder: str
) -> None:
    name = unique(f"mdget-{user}") + ".txt"
    upload(users["alice"], tmp_path, folder, name)
    for endpoint in ("metadata", "meadata"):
        result = users[user](path=file_path(folder, name, endpoint))
        assert_envelope(result, 403, "authorization", "No read permission")


def test_metadata_get_with_download_permission_returns_200(users: Sessions, tmp_path: Path) -> None:
    name = unique("mdget-bob") + ".txt"
    upload(users["alice"], tmp_path, "outbox", name)
    assert read_metadata(users["bob"], "outbox", name)["size"] == "4"


@pytest.mark.parametrize("endpoint", ["metadata", "meadata"])
@pytest.mark.parametrize(
    ("rest", "status", "error_type", "message"),
    [
        ("inbox/x.txt", 404, "io", "File 'x.txt' doesn't exist"),
        ("nope/x.txt", 404, "io", "Path 'nope' doesn't exist"),
        ("inbox/", 400, "request_syntax", NO_FILENAME),
        ("inbox/archive", 400, "request_syntax", NO_FILENAME),
    ],
)
def test_metadata_get_missing_target_returns_error(
    alice: Curl, endpoint: str, rest: str, status: int, error_type: str, message: str
) -> None:
    assert_envelope(alice(path=f"/2.0/{endpoint}/{rest}"), status, error_type, message)


# --------------------------------------------------------------------------- countelements


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, 12),
        ({"filter": "*"}, 12),
        ({"filter": ""}, 12),
        ({"filter": "inv*"}, 3),
        ({"filter": "INV*"}, 1),  # names are case-sensitive
        ({"filter": "*.txt"}, 10),
        ({"filter": "*.TXT"}, 1),
        ({"filter": "report.csv"}, 1),
        ({"filter": "report"}, 0),  # a pattern matches whole names
        ({"filter": "inv_1.txt"}, 1),  # `_` is literal
        ({"filter": "inv%1.txt"}, 1),  # `%` is literal
        ({"filter": "*_*"}, 4),
        ({"filter": "*%*"}, 1),
        ({"filter": "what?.txt"}, 1),  # `?` is literal
        ({"filter": "[x].txt"}, 1),  # `[` is literal
        ({"filter": "*X*"}, 2),  # whatX.txt, INVOICE.TXT
        ({"filter": "nomatch*"}, 0),
        ({"type": "files"}, 12),
        ({"type": "folders"}, 0),
        ({"type": "all", "filter": "inv*"}, 3),
    ],
    ids=lambda v: "-".join(f"{k}={x}" for k, x in v.items()) or "default" if isinstance(v, dict) else str(v),
)
def test_countelements_returns_bare_number(alice: Curl, world: World, query: dict[str, str], expected: int) -> None:
    result = count(alice, "deep/a/b", **query)
    assert result.status == 200 and result.body == str(expected).encode(), (result.status, result.body)
    assert listing(alice, "deep/a/b", **query)["total"] == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [({}, 3), ({"type": "folders"}, 1), ({"type": "files"}, 2), ({"filter": "b"}, 1), ({"filter": "*.txt"}, 2)],
)
def test_countelements_counts_folders_and_files(
    alice: Curl, world: World, query: dict[str, str], expected: int
) -> None:
    result = count(alice, "deep/a", **query)
    assert result.status == 200 and result.body == str(expected).encode(), (result.status, result.body)


@pytest.mark.parametrize("path", ["/2.0/countelements/", "/2.0/countelements"])
def test_countelements_root_counts_top_level_folders(alice: Curl, users: Sessions, path: str) -> None:
    assert alice(path=path).body == str(len(ROOT_FOLDERS)).encode()
    assert alice(path=path + "?type=folders").body == str(len(ROOT_FOLDERS)).encode()
    assert alice(path=path + "?type=files").body == b"0"
    assert users["appuser"](path=path).body == b"2"  # AppB: /in and /out


@pytest.mark.parametrize("value", ["bogus", "file", "FILES", "folder"])
def test_countelements_invalid_type_returns_400(alice: Curl, value: str) -> None:
    result = count(alice, "inbox", type=value)
    assert_envelope(result, 400, "request_syntax")
    assert "type" in result.json()["message"]


@pytest.mark.parametrize("folder", ["nope", "inbox/nope", "inbox/archive/nope"])
def test_countelements_missing_path_returns_404(alice: Curl, folder: str) -> None:
    assert_envelope(count(alice, folder), 404, "io", "Path doesn't exist")


@pytest.mark.parametrize(("user", "folder"), [("carol", "inbox"), ("dave", "inbox"), ("carol", "outbox")])
def test_countelements_without_list_permission_returns_403(users: Sessions, user: str, folder: str) -> None:
    assert_envelope(count(users[user], folder), 403, "authorization", "No list permission")


def test_countelements_with_list_permission_returns_200(users: Sessions) -> None:
    for user, folder in (("bob", "inbox"), ("bob", "outbox"), ("dave", "outbox")):
        result = count(users[user], folder)
        assert result.status == 200 and result.body.isdigit(), (user, folder, result.body)


# --------------------------------------------------------------------------- directories


def test_directories_default_returns_documented_shape(alice: Curl, world: World) -> None:
    body = listing(alice, "deep/a/b")
    assert list(body) == ["result", "timestamp", "path", "start", "limit", "total", "elements"], body
    assert body["result"] == "ok" and TIMESTAMP.match(body["timestamp"])
    assert (body["path"], body["start"], body["limit"], body["total"]) == ("deep/a/b", 0, 500, 12)
    assert [e["name"] for e in body["elements"]] == BY_NAME
    sizes = dict(FILES)
    for element in body["elements"]:
        assert set(element) == {"name", "type", "fileset", *SYSTEM_ATTRIBUTES}, element
        assert all(isinstance(v, str) for v in element.values()), element
        name = element["name"]
        assert element["type"] == "file" and element["fileset"] == world.filesets[name]
        assert element["size"] == str(sizes[name]) and TIMESTAMP.match(element["putDate"]), element
        assert bool(element["firstReadDate"]) == (name in READ_ORDER), element


def test_directories_folders_and_files_lists_folders_first(alice: Curl, world: World) -> None:
    body = listing(alice, "deep/a")
    assert body["total"] == 3 and body["path"] == "deep/a"
    elements = body["elements"]
    assert elements[0] == {"name": "b", "type": "folder"}, elements
    assert [(e["name"], e["type"], e["fileset"]) for e in elements[1:]] == [
        ("one.txt", "file", world.filesets["a/one.txt"]),
        ("two.txt", "file", world.filesets["a/two.txt"]),
    ]
    assert listing(alice, "deep")["elements"] == [{"name": "a", "type": "folder"}]


@pytest.mark.parametrize(
    ("type_", "expected"), [("folders", ["b"]), ("files", ["one.txt", "two.txt"]), ("all", ["b", "one.txt", "two.txt"])]
)
def test_directories_type_filter_returns_only_that_type(
    alice: Curl, world: World, type_: str, expected: list[str]
) -> None:
    body = listing(alice, "deep/a", type=type_)
    assert [e["name"] for e in body["elements"]] == expected and body["total"] == len(expected)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [("name", BY_NAME), ("size", BY_SIZE), ("put_date", BY_PUT)],
)
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_directories_sort_orders_files(
    alice: Curl, world: World, sort: str, direction: str, expected: list[str]
) -> None:
    want = expected if direction == "asc" else expected[::-1]
    assert order(alice, "deep/a/b", sort=sort, direction=direction) == want
    if direction == "asc":
        assert order(alice, "deep/a/b", sort=sort) == want  # asc is the default direction


def test_directories_no_sort_orders_by_name(alice: Curl, world: World) -> None:
    assert order(alice, "deep/a/b") == BY_NAME


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_directories_sort_read_date_orders_by_first_read(alice: Curl, world: World, direction: str) -> None:
    got = [n for n in order(alice, "deep/a/b", sort="read_date", direction=direction) if n in READ_ORDER]
    assert got == (list(READ_ORDER) if direction == "asc" else list(READ_ORDER)[::-1])
    assert len(order(alice, "deep/a/b", sort="read_date", direction=direction)) == 12


def test_directories_sort_expiry_date_orders_by_retention(users: Sessions, tmp_path: Path) -> None:
    """AppB expires files 48 h after put, or 2 h after the first get: a read file expires first."""
    appuser = users["appuser"]
    prefix = unique("exp")
    for letter in "cba":  # put order c, b, a: expiries c < b < a
        upload(appuser, tmp_path, "out", f"{prefix}-{letter}.txt")
    assert appuser(path=file_path("out", f"{prefix}-b.txt")).status == 200  # b now expires in 2 h
    expected = [f"{prefix}-{x}.txt" for x in "bca"]
    assert order(appuser, "out", filter=f"{prefix}-*", sort="expiry_date") == expected
    assert order(appuser, "out", filter=f"{prefix}-*", sort="expiry_date", direction="desc") == expected[::-1]


@pytest.mark.parametrize(("start", "limit"), [(0, 3), (2, 3), (10, 5), (11, 1), (12, 5), (100, 5), (0, 12), (3, 500)])
def test_directories_start_limit_pages_total_counts_all(alice: Curl, world: World, start: int, limit: int) -> None:
    body = listing(alice, "deep/a/b", sort="size", start=str(start), limit=str(limit))
    assert (body["start"], body["limit"], body["total"]) == (start, limit, 12)
    assert [e["name"] for e in body["elements"]] == BY_SIZE[start : start + limit]


@pytest.mark.parametrize(("start", "expected"), [(0, ["b", "one.txt"]), (1, ["one.txt", "two.txt"]), (2, ["two.txt"])])
def test_directories_paging_crosses_from_folders_to_files(
    alice: Curl, world: World, start: int, expected: list[str]
) -> None:
    body = listing(alice, "deep/a", start=str(start), limit="2")
    assert [e["name"] for e in body["elements"]] == expected and body["total"] == 3


def test_directories_filter_and_paging_returns_page_of_matches(alice: Curl, world: World) -> None:
    matches = [n for n in BY_NAME if n.endswith(".txt")]
    body = listing(alice, "deep/a/b", filter="*.txt", limit="4", start="1")
    assert body["total"] == len(matches) == 10
    assert [e["name"] for e in body["elements"]] == matches[1:5]
    assert order(alice, "deep/a/b", filter="inv*") == ["inv%1.txt", "inv_1.txt", "inva1.txt"]
    assert order(alice, "deep/a/b", filter="inv_1.txt") == ["inv_1.txt"]
    assert order(alice, "deep/a/b", filter="inv%1.txt") == ["inv%1.txt"]


def test_directories_attributes_returns_exactly_those_keys(alice: Curl, world: World) -> None:
    body = listing(alice, "deep/a", attributes="size,putDate,bogus")
    assert body["elements"][0] == {"name": "b", "type": "folder"}
    for element in body["elements"][1:]:
        assert set(element) == {"name", "type", "fileset", "size", "putDate", "bogus"}, element
        assert element["bogus"] == "" and element["size"] == "4" and TIMESTAMP.match(element["putDate"]), element
    only = listing(alice, "deep/a", attributes="correlationId", type="files")["elements"]
    assert [set(e) for e in only] == [{"name", "type", "fileset", "correlationId"}] * 2


@pytest.mark.parametrize("path", ["/2.0/directories/", "/2.0/directories"])
def test_directories_root_lists_top_level_folders(alice: Curl, users: Sessions, path: str) -> None:
    result = alice(path=path)
    assert result.status == 200, result.body
    body = result.json()
    assert (body["path"], body["total"]) == ("", len(ROOT_FOLDERS))
    assert body["elements"] == [{"name": n, "type": "folder"} for n in ROOT_FOLDERS]
    app = users["appuser"](path=path).json()
    assert app["elements"] == [{"name": "in", "type": "folder"}, {"name": "out", "type": "folder"}]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("sort", "bogus"),
        ("sort", "date"),
        ("direction", "up"),
        ("direction", "descending"),
        ("start", "-1"),
        ("start", "abc"),
        ("start", "1.5"),
        ("limit", "-1"),
        ("limit", "abc"),
        ("limit", "99999999999999999999"),
        ("type", "file"),
    ],
)
def test_directories_invalid_parameter_returns_400_naming_it(alice: Curl, param: str, value: str) -> None:
    result = alice("-G", "--data-urlencode", f"{param}={value}", path="/2.0/directories/inbox")
    assert_envelope(result, 400, "request_syntax")
    assert param in result.json()["message"], result.json()


@pytest.mark.parametrize("folder", ["nope", "inbox/nope"])
def test_directories_missing_path_returns_404(alice: Curl, folder: str) -> None:
    assert_envelope(alice(path=f"/2.0/directories/{folder}"), 404, "io", "Path doesn't exist")


@pytest.mark.parametrize(("user", "folder"), [("carol", "inbox"), ("dave", "inbox"), ("carol", "outbox")])
def test_directories_without_list_permission_returns_403(users: Sessions, user: str, folder: str) -> None:
    assert_envelope(users[user](path=f"/2.0/directories/{folder}"), 403, "authorization", "No list permission")


def test_directories_with_list_permission_shows_uploaded_files(users: Sessions, tmp_path: Path) -> None:
    name = unique("bob-sees") + ".txt"
    fileset = upload(users["alice"], tmp_path, "outbox", name)
    elements = listing(users["bob"], "outbox", filter=name)["elements"]
    assert [(e["name"], e["fileset"]) for e in elements] == [(name, fileset)]
    assert names(users["dave"], "outbox", name) == [name]
