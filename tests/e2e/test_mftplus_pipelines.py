"""Seed 001's pipelines end to end (a real server, SQLite and PostgreSQL): create, export
byte for byte, new versions with their SHA-256, dry-run errors at their line and column, the
JSON Schema validating the demo tasks, search, runs pinned to a version, two partners kept
apart (404), and bad input refused with nothing written."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from tests.e2e.harness import Gateway
from tests.e2e.jobs_world import bearer, envelope_error, world

pytestmark = pytest.mark.e2e

ECHO = """# a pipeline with comments, odd spacing and Unicode: exported exactly as sent
description:   "Extract, transform, and load daily data — ünïcode"
params: {label: "demo"}
steps:
  - name: hello
    command:
      argv: ["/bin/echo", "{param.label}"]     # trailing comment
"""
ECHO_V2 = ECHO.replace("demo", "second") + "\n\n# v2\n"
ACME = "steps:\n  - name: file\n    route: {vfs: pa, path: /outbox}\n"  # PartnerA's own VFS


@pytest.fixture(scope="module")
def gw(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = Gateway(root=tmp_path_factory.mktemp("pipelines"), database_url=catalog_url, config=world()).start()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def admin(gw: Gateway) -> Iterator[httpx.Client]:
    with bearer(gw, "admin") as client:
        yield client


@pytest.fixture(scope="module")
def acme(gw: Gateway) -> Iterator[httpx.Client]:
    with bearer(gw, "acme") as client:
        yield client


@pytest.fixture(scope="module")
def globex(gw: Gateway) -> Iterator[httpx.Client]:
    with bearer(gw, "globex") as client:
        yield client


def create(client: httpx.Client, identifier: str, text: str = ECHO, **extra: Any) -> dict[str, Any]:
    body = {"identifier": identifier, "name": f"Pipeline {identifier}", "description": "Daily ETL", "yaml": text,
            "enabled": True, **extra}  # fmt: skip
    r = client.post("/api/pipelines", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["success"] is True
    return dict(r.json()["data"])


def count(admin: httpx.Client) -> int:
    r = admin.get("/api/pipelines")
    assert r.status_code == 200, r.text
    return int(r.json()["pagination"]["total"])


def test_pipeline_create_then_export_is_byte_for_byte(admin: httpx.Client) -> None:
    made = create(admin, "daily-etl-pipeline")
    assert made["identifier"] == "daily-etl-pipeline" and made["version"] == 1 and made["enabled"] is True
    r = admin.get(f"/api/pipelines/{made['id']}/yaml")
    assert r.status_code == 200
    assert r.content == ECHO.encode("utf-8")
    assert r.headers["etag"] == f'"{hashlib.sha256(ECHO.encode()).hexdigest()}"'
    got = admin.get(f"/api/pipelines/{made['id']}").json()["data"]
    assert got["yaml"] == ECHO and got["sha256"] == hashlib.sha256(ECHO.encode()).hexdigest()
    again = admin.post("/api/pipelines", json={"identifier": "daily-etl-pipeline", "name": "x", "yaml": ECHO})
    envelope_error(again, 409)


def test_pipeline_put_yaml_creates_an_immutable_version(admin: httpx.Client) -> None:
    made = create(admin, "versioned")
    raw = {"content-type": "application/yaml"}
    r = admin.put(f"/api/pipelines/{made['id']}/yaml", content=ECHO_V2.encode(), headers=raw)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["version"] == 2
    assert admin.get(f"/api/pipelines/{made['id']}/yaml").content == ECHO_V2.encode()
    r = admin.put(f"/api/pipelines/{made['id']}/yaml", json={"yaml": ECHO})  # JSON form; same text as v1
    assert r.status_code == 200 and r.json()["data"]["version"] == 3
    versions = admin.get(f"/api/pipelines/{made['id']}/versions").json()["data"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    digests = {v["version"]: v["sha256"] for v in versions}
    assert digests[1] == digests[3] == hashlib.sha256(ECHO.encode()).hexdigest()
    assert digests[2] == hashlib.sha256(ECHO_V2.encode()).hexdigest()
    assert [v["taskVersion"] for v in versions] == [3, 2, 1]  # each text changed the definition
    broken = admin.put(f"/api/pipelines/{made['id']}/yaml", content=b"steps: [", headers=raw)
    assert envelope_error(broken, 400)["details"]["errors"][0]["line"] == 1
    assert len(admin.get(f"/api/pipelines/{made['id']}/versions").json()["data"]) == 3  # nothing written
    assert admin.get(f"/api/pipelines/{made['id']}/yaml").content == ECHO.encode()


def test_pipeline_dry_run_reports_every_error_with_line_and_column(admin: httpx.Client) -> None:
    broken = (
        "description: broken\n"  # 1
        "colour: blue\n"  # 2: unknown key
        "steps:\n"  # 3
        "  - name: a\n"  # 4
        "    command: {argv: []}\n"  # 5
        "  - name: b\n"  # 6
        "    pull: {connection: nowhere, vfs: app, path: /in}\n"  # 7: unknown connection
    )
    before = count(admin)
    r = admin.post("/api/pipelines/dry-run", content=broken.encode(), headers={"content-type": "application/yaml"})
    body = envelope_error(r, 400)
    errors = body["details"]["errors"]
    assert len(errors) >= 3, errors
    where = {(e["line"], e["path"].split(".")[0].split("[")[0]) for e in errors}
    assert (2, "colour") in where, errors
    assert any(e["line"] == 5 and "argv" in e["path"] for e in errors), errors
    assert any(e["line"] == 7 and "connection" in e["path"] for e in errors), errors
    assert all(e["column"] >= 1 for e in errors)
    syntax = admin.post("/api/pipelines/dry-run", json={"yaml": "steps:\n  - name: a\n   bad: [\n"})
    err = envelope_error(syntax, 400)["details"]["errors"][0]
    assert err["line"] >= 2 and err["column"] >= 1 and "invalid YAML" in err["message"]
    ok = admin.post("/api/pipelines/dry-run", json={"yaml": ECHO})
    assert ok.status_code == 200 and ok.json()["data"]["valid"] is True
    assert count(admin) == before  # a dry run saves nothing


def test_pipeline_schema_validates_the_demo_tasks(acme: httpx.Client) -> None:
    r = acme.get("/api/pipelines/schema")
    assert r.status_code == 200
    schema = r.json()["data"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    demo = yaml.safe_load((Path(__file__).parents[2] / "vfs-config" / "tasks.yaml").read_text())
    assert demo["tasks"]
    for name, task in demo["tasks"].items():
        problems = [e.message for e in validator.iter_errors(task)]
        assert not problems, (name, problems)
    assert list(validator.iter_errors({"steps": [{"name": "x", "command": {"argv": ["a"]}}], "colour": 1}))
    assert list(validator.iter_errors({"steps": [{"name": "x"}]}))  # a step needs exactly one kind


def test_pipeline_search_and_enabled_filter(admin: httpx.Client) -> None:
    create(admin, "search-alpha", description="Loads the warehouse")
    create(admin, "search-beta", name="Beta WAREHOUSE feed", enabled=False)
    found = admin.get("/api/pipelines", params={"search": "warehouse"}).json()["data"]
    assert {p["identifier"] for p in found} == {"search-alpha", "search-beta"}
    found = admin.get("/api/pipelines", params={"search": "warehouse", "enabled": "false"}).json()["data"]
    assert [p["identifier"] for p in found] == ["search-beta"]
    found = admin.get("/api/pipelines", params={"search": "alpha"}).json()["data"]
    assert [p["identifier"] for p in found] == ["search-alpha"]
    page = admin.get("/api/pipelines", params={"limit": 1, "page": 2}).json()
    assert len(page["data"]) == 1 and page["pagination"]["page"] == 2
    envelope_error(admin.get("/api/pipelines", params={"limit": 101}), 400)
    envelope_error(admin.get("/api/pipelines", params={"enabled": "maybe"}), 400)


def test_pipeline_two_partners_are_kept_apart(acme: httpx.Client, globex: httpx.Client, admin: httpx.Client) -> None:
    mine = create(acme, "acme-only", ACME)
    envelope_error(globex.get(f"/api/pipelines/{mine['id']}"), 404)
    envelope_error(globex.get(f"/api/pipelines/{mine['id']}/yaml"), 404)
    envelope_error(globex.patch(f"/api/pipelines/{mine['id']}", json={"name": "stolen"}), 404)
    envelope_error(globex.delete(f"/api/pipelines/{mine['id']}"), 404)
    assert "acme-only" not in {p["identifier"] for p in globex.get("/api/pipelines").json()["data"]}
    assert "acme-only" in {p["identifier"] for p in acme.get("/api/pipelines").json()["data"]}
    assert admin.get(f"/api/pipelines/{mine['id']}").status_code == 200
    envelope_error(acme.post(f"/api/pipelines/{mine['id']}/runs", json={}), 403)  # runs: admins only
    envelope_error(acme.get(f"/api/pipelines/{mine['id']}/versions"), 403)
    envelope_error(httpx.get(f"{acme.base_url}/api/pipelines"), 401)


def test_pipeline_of_a_customer_stays_inside_its_partner(acme: httpx.Client, admin: httpx.Client) -> None:
    before = count(admin)
    errors = envelope_error(
        acme.post("/api/pipelines", json={"identifier": "acme-cmd", "name": "x", "yaml": ECHO}), 400
    )
    assert any(e["line"] == 6 and "command" in e["message"] for e in errors["details"]["errors"]), errors
    other = ACME.replace("vfs: pa", "vfs: app")
    errors = envelope_error(acme.post("/api/pipelines/dry-run", json={"yaml": other}), 400)
    assert errors["details"]["errors"][0]["line"] == 3, errors
    envelope_error(admin.post("/api/pipelines", json={"identifier": "job-x", "name": "x", "yaml": ECHO}), 409)
    assert count(admin) == before


def wait_run(admin: httpx.Client, pipeline: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = admin.get(f"/api/pipelines/{pipeline}/runs").json()["data"]
        run = next(r for r in runs if r["id"] == run_id)
        if run["status"] in ("completed", "failed", "canceled"):
            return dict(run)
        time.sleep(0.2)
    raise AssertionError("run did not end")


def test_pipeline_run_pins_its_version(admin: httpx.Client) -> None:
    made = create(admin, "runner", ECHO + "concurrency: 4\n")
    r = admin.post(f"/api/pipelines/{made['id']}/runs", json={"params": {"label": "first"}})
    assert r.status_code == 201, r.text
    first = r.json()["data"]
    r = admin.put(f"/api/pipelines/{made['id']}/yaml", json={"yaml": ECHO_V2 + "concurrency: 4\n"})
    assert r.status_code == 200, r.text
    r = admin.post(f"/api/pipelines/{made['id']}/runs")
    assert r.status_code == 201, r.text
    second = r.json()["data"]
    done1, done2 = wait_run(admin, made["id"], first["id"]), wait_run(admin, made["id"], second["id"])
    assert done1["status"] == done2["status"] == "completed", (done1, done2)
    assert done1["taskVersion"] != done2["taskVersion"]
    assert done1["params"] == {"label": "first"} and done2["params"] == {"label": "second"}
    envelope_error(admin.post(f"/api/pipelines/{made['id']}/runs", json={"params": {"nope": "x"}}), 400)
    assert admin.patch(f"/api/pipelines/{made['id']}", json={"enabled": False}).json()["data"]["enabled"] is False
    envelope_error(admin.post(f"/api/pipelines/{made['id']}/runs"), 409)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "no identifier", "yaml": ECHO},
        {"identifier": "bad id!", "name": "x", "yaml": ECHO},
        {"identifier": "ok-id", "name": "x", "yaml": "steps: []\n"},
        {"identifier": "ok-id", "name": "x", "yaml": ECHO, "enabled": "yes"},
        {"identifier": "ok-id", "name": "x", "yaml": ECHO, "owner": "someone"},
        {"identifier": "ok-id", "name": "x", "yaml": "schedules: [{cron: '* * * * *'}]\n" + ECHO},
    ],
)
def test_pipeline_bad_input_is_400_and_writes_nothing(admin: httpx.Client, body: dict[str, Any]) -> None:
    before = count(admin)
    envelope_error(admin.post("/api/pipelines", json=body), 400)
    assert count(admin) == before


def test_pipeline_patch_then_delete(admin: httpx.Client) -> None:
    made = create(admin, "short-lived")
    r = admin.patch(f"/api/pipelines/{made['id']}", json={"name": "Renamed", "description": ""})
    assert r.status_code == 200 and r.json()["data"]["name"] == "Renamed"
    envelope_error(admin.patch(f"/api/pipelines/{made['id']}", json={"yaml": ECHO}), 400)  # metadata only
    assert admin.delete(f"/api/pipelines/{made['id']}").json()["data"]["deleted"] is True
    envelope_error(admin.get(f"/api/pipelines/{made['id']}"), 404)


def test_pipeline_hostile_ids_and_text_are_clean_answers(admin: httpx.Client) -> None:
    for pipeline in ("%00", "a%00b", "%ED%A0%80", "x" * 300, "..%2F.."):
        envelope_error(admin.get(f"/api/pipelines/{pipeline}"), 404)
    envelope_error(admin.get("/api/pipelines", params={"search": "a\x00b"}), 400)
    lone = b'{"identifier": "lone", "name": "\\ud800", "yaml": "steps: []"}'
    envelope_error(admin.post("/api/pipelines", content=lone, headers={"content-type": "application/json"}), 400)
    envelope_error(admin.post("/api/pipelines/dry-run", json={"yaml": "steps:\x00"}), 400)
    envelope_error(admin.post("/api/pipelines", content=b"[1]", headers={"content-type": "application/json"}), 400)
    envelope_error(admin.post("/api/pipelines", content=b"{", headers={"content-type": "application/json"}), 400)
