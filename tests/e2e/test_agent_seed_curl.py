"""Seed 001's three curl examples (register, heartbeat, list agents), changed only in host and
credentials, run with the curl command line against the demo configuration (vfs-config/), and
the answers have the documented shapes. Then the demo enrolment (README "Agents") registers an
agent with ``mft-gateway agent --enroll``."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.agent_world import AgentProcess
from tests.e2e.harness import Gateway, running

DEMO = Path(__file__).resolve().parents[2] / "vfs-config"
DEMO_PASSWORDS = {"jdoe": "jdoe-secret", "mftadmin": "mftadmin-secret"}


def demo_config() -> dict[str, dict[str, Any]]:
    return {p.name: yaml.safe_load(p.read_text()) or {} for p in sorted(DEMO.glob("*.yaml"))}


@pytest.fixture(scope="module")
def gateway(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = Gateway(root=tmp_path_factory.mktemp("gw"), database_url=catalog_url, config=demo_config())
    with running(gw):
        yield gw


def _bearer(gateway: Gateway, user: str) -> str:
    """A JWT of ``user``: an API key made by the demo admin, exchanged at /token (README)."""
    with httpx.Client(base_url=gateway.url) as admin:
        r = admin.post("/2.0/login/basic", data={"username": "mftadmin", "password": DEMO_PASSWORDS["mftadmin"]})
        assert r.status_code == 200, r.text
        r = admin.post("/admin/api-keys", json={"owner": user, "name": f"seed 001 curl test ({user})"})
        assert r.status_code == 201, r.text
        key = r.json()["key"]
    r = httpx.post(f"{gateway.url}/token", data={"grant_type": "apikey", "key": key})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _curl(*args: str) -> tuple[int, Any]:
    done = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args], capture_output=True, text=True, check=True)
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


def test_seed_001_curl_examples_answer_the_documented_shapes(gateway: Gateway) -> None:
    customer, admin = _bearer(gateway, "jdoe"), _bearer(gateway, "mftadmin")
    status, body = _curl(
        "-X", "POST", f"{gateway.url}/api/agents/register",
        "-H", "Content-Type: application/json",
        "-H", f"Authorization: Bearer {customer}",
        "-d", '{\n"name": "prod-server-1",\n"hostname": "server1.example.com",\n"os": "linux"\n}',
    )  # fmt: skip
    assert status == 201, body
    assert body["success"] is True and set(body["data"]) >= {"agent", "apiKey", "mtls"}
    agent = body["data"]["agent"]
    assert {k: agent[k] for k in ("name", "hostname", "os")} == {
        "name": "prod-server-1",
        "hostname": "server1.example.com",
        "os": "linux",
    }
    assert set(agent) >= {"id", "status", "createdAt"} and agent["createdAt"].endswith("Z")
    key = body["data"]["apiKey"]
    assert key.startswith("mft_ak_")
    assert isinstance(body["data"]["mtls"]["enabled"], bool) and "csrTemplate" in body["data"]["mtls"]

    status, body = _curl(
        "-X", "POST", f"{gateway.url}/api/agents/heartbeat",
        "-H", "Content-Type: application/json",
        "-H", f"X-API-Key: {key}",
        "-d", '{"status": "online"}',
    )  # fmt: skip
    assert status == 200 and body["success"] is True, body

    status, body = _curl(f"{gateway.url}/api/agents", "-H", f"Authorization: Bearer {admin}")
    assert status == 200 and body["success"] is True, body
    listed = {a["id"]: a for a in body["data"]}
    assert listed[agent["id"]]["status"] == "online"


def test_the_demo_enrolment_registers_an_agent(gateway: Gateway, tmp_path: Path) -> None:
    agent = AgentProcess(gateway, tmp_path / "demo-agent", enroll="partner-demo-enrolment").start()
    try:
        agent_id = agent.agent_id()
        with contextlib.closing(gateway.client()) as client:
            r = client.post("/2.0/login/basic", data={"username": "jdoe", "password": DEMO_PASSWORDS["jdoe"]})
            assert r.status_code == 200
            seen = client.get(f"/api/agents/{agent_id}").json()
        assert seen["success"] is True and seen["data"]["customer"] == "jdoe"
        assert (agent.state_dir / "agent-state.json").stat().st_mode & 0o077 == 0  # the key is private
    finally:
        agent.stop()
