"""Seed 000's /v1 end to end: a subprocess client that behaves like the seed's sample script
(ES256 assertion, JSON token request, lower-case ``bearer``, 5 s polling) runs a route + command
task to ``success`` given only the gateway's base URL; licence usage, 403/401/429 answers and
the token endpoint's audience. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Gateway, default_config, password_hash
from tests.oauth_client import ASSERTION_TYPE, ClientKey

pytestmark = pytest.mark.e2e

CLIENT = Path(__file__).with_name("automate_client.py")
TENANT = "tenant-7f3a"
KEY = ClientKey.generate("key-2026")


def automate_config() -> dict[str, dict[str, Any]]:
    config = default_config()
    config["actors.yaml"]["actors"]["Ops"] = {
        "kind": "application",
        "users": {"root": {"password_hash": password_hash("root"), "admin": True}},
        "service_accounts": {"opbot": {"roles": ["operator"]}},
    }
    config["oauth-clients.yaml"] = {
        "clients": {
            TENANT: {
                "principal": "opbot",
                "scopes": ["runs:read", "runs:write"],
                "keys": [{"kid": KEY.kid, "alg": "ES256", "public_key": KEY.public_pem}],
            }
        }
    }
    config["tasks.yaml"] = {
        "plan": {"tier": "enterprise", "start_date": "2026-01-01", "end_date": "2030-12-31"},
        "tasks": {
            "publish": {
                "params": {"file": "v1.txt"},
                "input": {"vfs": "app", "path": "/in/{file}"},
                "steps": [
                    {"name": "copy", "route": {"vfs": "app", "path": "/out"}},
                    {"name": "log", "command": {"argv": ["/bin/echo", "published {path}"]}},
                ],
            },
            "long": {"steps": [{"name": "sleep", "command": {"argv": ["/bin/sleep", "72"], "timeout_seconds": 120}}]},
            "hold": {
                "params": {"seconds": "20.75"},
                "concurrency": 1,
                "steps": [{"name": "sleep", "command": {"argv": ["/bin/sleep", "{param.seconds}"]}}],
            },
        },
    }
    config["gateway.yaml"]["server"]["oauth_token_minutes"] = 1  # so a long poll sees its token expire
    return config


@pytest.fixture(scope="module")
def gw(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = Gateway(root=tmp_path_factory.mktemp("v1"), database_url=catalog_url, config=automate_config()).start()
    try:
        yield gateway
    finally:
        gateway.stop()


def token(gw: Gateway) -> str:
    assertion = KEY.assertion(TENANT, f"{gw.url}/v1/oauth/token")
    body = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
    r = httpx.post(f"{gw.url}/v1/oauth/token", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def test_seed_shaped_client_runs_a_task_to_success(gw: Gateway, tmp_path: Path) -> None:
    c = gw.client("appuser")
    try:
        assert c.put("/2.0/files/in/v1.txt", files={"file": ("v1.txt", b"seed zero")}).status_code == 201
    finally:
        c.close()
    key_file = tmp_path / "key.pem"
    key_file.write_text(KEY.private_pem)
    done = subprocess.run(
        [sys.executable, str(CLIENT), gw.url, TENANT, str(key_file), KEY.kid, "publish"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    records = [json.loads(line) for line in done.stdout.splitlines()]
    licenses = records[0]["licenses"]
    assert licenses["tenantId"] == TENANT and licenses["plan"]["tier"] == "enterprise"
    assert licenses["usage"]["filesIn"] >= 1 and licenses["usage"]["bytesIn"] >= 9
    started = records[1]["started"]
    assert started["id"].isdigit() and started["taskId"] == "publish"
    finished = records[-1]["finished"]
    assert finished["id"] == started["id"] and finished["status"]["taskRunStatus"] == "success"
    assert [s["status"] for s in finished["steps"]] == ["Finished", "Finished"]
    assert finished["steps"][1]["output"] == "published /out/v1.txt\n"
    headers = {"Authorization": f"bearer {token(gw)}"}
    after = httpx.get(f"{gw.url}/v1/licenses/current", headers=headers).json()
    assert after["usage"]["taskExecutions"] >= licenses["usage"]["taskExecutions"] + 1


def test_busy_is_429_with_retry_after_and_failed_run_detail(gw: Gateway) -> None:
    headers = {"Authorization": f"bearer {token(gw)}"}
    first = httpx.post(f"{gw.url}/v1/tasks/hold/start", headers=headers, json={"seconds": "0.5"})
    assert first.status_code == 200, first.text
    busy = httpx.post(f"{gw.url}/v1/tasks/hold/start", headers=headers, json={})
    assert busy.status_code == 429 and busy.headers["retry-after"] == "5" and busy.json()["code"] == "busy"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        run = httpx.get(f"{gw.url}/v1/task-runs/{first.json()['id']}", headers=headers).json()
        if run["status"]["taskRunStatus"] in ("success", "failed"):
            break
        time.sleep(0.2)
    assert run["status"]["taskRunStatus"] == "success"
    failing = httpx.post(f"{gw.url}/v1/tasks/hold/start", headers=headers, json={"seconds": "not-a-number"})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        run = httpx.get(f"{gw.url}/v1/task-runs/{failing.json()['id']}", headers=headers).json()
        if run["status"]["taskRunStatus"] in ("success", "failed"):
            break
        time.sleep(0.2)
    assert run["status"]["taskRunStatus"] == "failed" and "exited with status 1" in run["status"]["detail"]


def test_errors_unknown_run_bad_token_and_audience(gw: Gateway) -> None:
    headers = {"Authorization": f"bearer {token(gw)}"}
    assert httpx.get(f"{gw.url}/v1/task-runs/987654", headers=headers).status_code == 404
    assert httpx.post(f"{gw.url}/v1/tasks/nope/start", headers=headers, json={}).status_code == 404
    deep = httpx.post(f"{gw.url}/v1/tasks/publish/start", headers=headers, content="[" * 50_000)
    assert deep.status_code == 400 and deep.json()["code"] == "bad_request"
    bad = httpx.post(f"{gw.url}/v1/tasks/publish/start", headers=headers, json={"unknown": "x"})
    assert bad.status_code == 400 and "unknown" in bad.json()["message"]
    expired = httpx.get(f"{gw.url}/v1/task-runs/1", headers={"Authorization": "bearer not.a.token"})
    assert expired.status_code == 403  # the seed's client refreshes its token on 403
    assert httpx.get(f"{gw.url}/v1/task-runs/1").status_code == 401
    wrong_aud = KEY.assertion(TENANT, f"{gw.url}/oauth2/token")
    body = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": wrong_aud}
    r = httpx.post(f"{gw.url}/v1/oauth/token", json=body)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_seed_shaped_client_refreshes_its_expired_token_on_403(
    gw: Gateway, tmp_path: Path, catalog_url: str | None
) -> None:
    if catalog_url is not None:
        pytest.skip("token expiry is the same on both catalogs; run the 80-second case once")
    key_file = tmp_path / "key.pem"
    key_file.write_text(KEY.private_pem)
    done = subprocess.run(
        [sys.executable, str(CLIENT), gw.url, TENANT, str(key_file), KEY.kid, "long"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert {"refresh": True} in records  # the token (60 s + 5 s leeway) expired while it polled
    assert records[-1]["finished"]["status"]["taskRunStatus"] == "success"
