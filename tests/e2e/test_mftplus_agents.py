"""Seed 001's /api end to end on a real server (SQLite and PostgreSQL): health, agent
registration (bearer and enrollment), heartbeats and offline, partner isolation, transfers
reported by agents, bad input, unknown paths and methods."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Curl, Gateway, running
from tests.e2e.mftplus_world import ENROL_A, ENROL_S, OFFLINE_AFTER, bearer_of, mftplus_config, register

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gateway(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = Gateway(root=tmp_path_factory.mktemp("gw"), database_url=catalog_url, config=mftplus_config())
    with running(gw):
        yield gw


@pytest.fixture(scope="module")
def admin(gateway: Gateway) -> Iterator[httpx.Client]:
    with contextlib.closing(gateway.client("root")) as client:
        yield client


@pytest.fixture(scope="module")
def alice(gateway: Gateway, admin: httpx.Client) -> dict[str, str]:
    return bearer_of(gateway, admin, "alice")


@pytest.fixture(scope="module")
def sam(gateway: Gateway, admin: httpx.Client) -> dict[str, str]:
    return bearer_of(gateway, admin, "sam")


def api(gateway: Gateway, method: str, path: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{gateway.url}{path}", headers=headers, timeout=30, **kw)


def key(agent: dict[str, Any]) -> dict[str, str]:
    return {"X-API-Key": agent["apiKey"]}


def test_health_needs_no_credentials(gateway: Gateway) -> None:
    r = httpx.get(f"{gateway.url}/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and isinstance(body["uptime"], int) and body["timestamp"].endswith("Z")


def test_register_with_customer_bearer_returns_agent_key_and_mtls(gateway: Gateway, alice: dict[str, str]) -> None:
    data = register(gateway, alice, "prod-server-1")
    agent = data["agent"]
    assert set(data) == {"agent", "apiKey", "mtls"}
    assert data["apiKey"].startswith("mft_ak_")
    assert agent["name"] == "prod-server-1" and agent["hostname"] == "prod-server-1.example.com"
    assert agent["os"] == "linux" and agent["status"] == "online" and agent["createdAt"].endswith("Z")
    assert agent["partner"] == "PartnerA" and agent["customer"] == "alice"
    assert data["mtls"]["enabled"] is False and agent["id"] in data["mtls"]["csrTemplate"]
    # The key works at once, and is never shown again.
    r = api(gateway, "POST", "/api/agents/heartbeat", key(data), json={"status": "online"})
    assert r.status_code == 200, r.text
    r = api(gateway, "GET", f"/api/agents/{agent['id']}", alice)
    assert r.status_code == 200 and "apiKey" not in r.json()["data"]


def test_register_with_enrollment_until_its_uses_are_spent(gateway: Gateway, admin: httpx.Client) -> None:
    first = register(gateway, {}, "enrolled-1", customerIdentifier=ENROL_A)
    assert first["agent"]["customer"] == "alice" and first["agent"]["partner"] == "PartnerA"
    register(gateway, {}, "enrolled-2", customerIdentifier=ENROL_A)
    r = httpx.post(f"{gateway.url}/api/agents/register", json={"name": "third", "customerIdentifier": ENROL_A})
    assert r.status_code == 403
    assert r.json()["success"] is False and "uses are spent" in r.json()["error"]
    names = [a["name"] for a in admin.get("/api/agents", params={"limit": 100}).json()["data"]]
    assert "third" not in names  # nothing written
    r = httpx.post(f"{gateway.url}/api/agents/register", json={"name": "x", "customerIdentifier": "enrol-unknown-01"})
    assert r.status_code == 401 and r.json()["success"] is False
    r = httpx.post(f"{gateway.url}/api/agents/register", json={"name": "x"})
    assert r.status_code == 401
    # A single-use identifier (uses defaults to 1).
    assert register(gateway, {}, "sam-1", customerIdentifier=ENROL_S)["agent"]["partner"] == "PartnerS"
    r = httpx.post(f"{gateway.url}/api/agents/register", json={"name": "sam-2", "customerIdentifier": ENROL_S})
    assert r.status_code == 403


def test_heartbeat_online_then_offline_after_silence(gateway: Gateway, alice: dict[str, str]) -> None:
    agent = register(gateway, alice, "hb-agent")
    agent_id = agent["agent"]["id"]
    r = api(gateway, "POST", "/api/agents/heartbeat", key(agent), json={"status": "busy", "load": 0.45, "memory": 512})
    assert r.status_code == 200, r.text
    got = api(gateway, "GET", f"/api/agents/{agent_id}", alice).json()["data"]
    assert got["status"] == "busy" and got["load"] == 0.45 and got["memory"] == 512 and got["lastSeen"]
    time.sleep(OFFLINE_AFTER + 0.5)
    listed = api(gateway, "GET", "/api/agents", alice, params={"limit": 100}).json()["data"]
    assert {a["id"]: a["status"] for a in listed}[agent_id] == "offline"
    api(gateway, "POST", "/api/agents/heartbeat", key(agent), json={"status": "online"})
    assert api(gateway, "GET", f"/api/agents/{agent_id}", alice).json()["data"]["status"] == "online"


def test_partners_see_only_their_own_agents_and_transfers(
    gateway: Gateway, alice: dict[str, str], sam: dict[str, str], admin: httpx.Client
) -> None:
    a = register(gateway, alice, "iso-a")
    s = register(gateway, sam, "iso-s")
    t = api(gateway, "POST", "/api/transfers", key(a), json={
        "sourceUrl": "sftp://ftp.example.com/files/data.csv", "destinationPath": "/local/data.csv",
        "direction": "pull", "protocol": "sftp", "size": 1048576,
    })  # fmt: skip
    assert t.status_code == 201, t.text
    tid, aid, sid = t.json()["data"]["id"], a["agent"]["id"], s["agent"]["id"]
    for path in (f"/api/agents/{aid}", f"/api/agents/{aid}/transfers", f"/api/transfers/{tid}"):
        r = api(gateway, "GET", path, sam)
        assert r.status_code == 404 and r.json()["success"] is False, path  # not 403: leaks nothing
        assert api(gateway, "GET", path, alice).status_code == 200
        assert admin.get(path).status_code == 200
    sam_agents = {x["id"] for x in api(gateway, "GET", "/api/agents", sam, params={"limit": 100}).json()["data"]}
    assert sid in sam_agents and aid not in sam_agents
    assert tid not in {x["id"] for x in api(gateway, "GET", "/api/transfers", sam).json()["data"]}
    # An agent sees its own transfers only, and cannot patch another agent's.
    r = api(gateway, "PATCH", f"/api/transfers/{tid}", key(s), json={"progress": 5})
    assert r.status_code == 404
    assert api(gateway, "GET", f"/api/transfers/{tid}", key(s)).status_code == 404


def test_transfer_lifecycle_filters_and_paging(gateway: Gateway, alice: dict[str, str]) -> None:
    agent = register(gateway, alice, "mover")
    ids = []
    for n in range(5):
        r = api(gateway, "POST", "/api/transfers", key(agent), json={
            "sourceUrl": f"sftp://h/f{n}", "destinationPath": f"/in/f{n}", "direction": "pull", "protocol": "sftp",
            "size": 1000,
        })  # fmt: skip
        assert r.status_code == 201, r.text
        created = r.json()["data"]
        assert created["status"] == "pending" and created["agentId"] == agent["agent"]["id"]
        ids.append(created["id"])
    first = ids[0]
    r = api(gateway, "PATCH", f"/api/transfers/{first}", key(agent),
            json={"status": "running", "progress": 45, "bytesTransferred": 450, "speed": 1048576})  # fmt: skip
    assert r.status_code == 200 and r.json()["data"]["progress"] == 45 and r.json()["data"]["speed"] == 1048576
    r = api(gateway, "PATCH", f"/api/transfers/{first}", key(agent), json={"status": "completed", "sha256": "a" * 64})
    done = r.json()["data"]
    assert done["status"] == "completed" and done["progress"] == 100 and done["bytesTransferred"] == 1000
    assert done["endedAt"] and done["sha256"] == "a" * 64
    r = api(gateway, "PATCH", f"/api/transfers/{first}", key(agent), json={"status": "running"})
    assert r.status_code == 409 and r.json()["success"] is False
    r = api(gateway, "PATCH", f"/api/transfers/{ids[1]}", key(agent), json={"status": "failed", "error": "refused"})
    assert r.json()["data"]["status"] == "failed"
    aid = agent["agent"]["id"]
    page1 = api(gateway, "GET", f"/api/agents/{aid}/transfers", alice, params={"limit": 2}).json()
    assert page1["pagination"] == {"page": 1, "limit": 2, "total": 5, "pages": 3} and len(page1["data"]) == 2
    page3 = api(gateway, "GET", f"/api/agents/{aid}/transfers", alice, params={"limit": 2, "page": 3}).json()
    assert len(page3["data"]) == 1
    seen = {t["id"] for p in (1, 2, 3) for t in api(gateway, "GET", "/api/transfers", alice,
            params={"agentId": aid, "limit": 2, "page": p}).json()["data"]}  # fmt: skip
    assert seen == set(ids)
    completed = api(gateway, "GET", "/api/transfers", alice, params={"agentId": aid, "status": "completed"}).json()
    assert [t["id"] for t in completed["data"]] == [first]
    future = api(gateway, "GET", "/api/transfers", alice, params={"agentId": aid, "from": "2999-01-01T00:00:00Z"})
    assert future.json()["data"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"destinationPath": "/x", "direction": "pull", "protocol": "sftp"}, "sourceUrl"),
        ({"sourceUrl": "s", "destinationPath": "/x", "direction": "sideways", "protocol": "sftp"}, "direction"),
        ({"sourceUrl": "s", "destinationPath": "/x", "direction": "pull", "protocol": "sftp", "size": -1}, "size"),
        ({"sourceUrl": "s", "destinationPath": "/x", "direction": "pull", "protocol": "SFTP!"}, "protocol"),
        ({"sourceUrl": "s", "destinationPath": "/x", "direction": "pull", "protocol": "sftp", "bogus": 1}, "bogus"),
    ],
)
def test_bad_transfer_input_is_400_and_writes_nothing(
    gateway: Gateway, alice: dict[str, str], body: dict[str, Any], field: str
) -> None:
    agent = register(gateway, alice, f"bad-{field}")
    r = api(gateway, "POST", "/api/transfers", key(agent), json=body)
    assert r.status_code == 400 and r.json()["success"] is False and field in r.json()["error"], r.text
    r = api(gateway, "POST", "/api/transfers", key(agent), content=b"{not json")
    assert r.status_code == 400
    aid = agent["agent"]["id"]
    assert api(gateway, "GET", f"/api/agents/{aid}/transfers", alice).json()["pagination"]["total"] == 0


def test_bad_agent_input_and_wrong_credentials(gateway: Gateway, alice: dict[str, str], admin: httpx.Client) -> None:
    before = admin.get("/api/agents").json()["pagination"]["total"]
    r = api(gateway, "POST", "/api/agents/register", alice, json={"name": ""})
    assert r.status_code == 400 and "name" in r.json()["error"]
    r = api(gateway, "POST", "/api/agents/register", alice, json=["not", "an", "object"])
    assert r.status_code == 400
    r = api(gateway, "POST", "/api/agents/register", alice, json={"name": "x", "hostname": "a\x00b"})
    assert r.status_code == 400 and "hostname" in r.json()["error"]
    r = api(gateway, "POST", "/api/agents/register", alice, json={"name": "x", "role": "admin"})
    assert r.status_code == 400 and "role" in r.json()["error"]
    assert admin.get("/api/agents").json()["pagination"]["total"] == before  # nothing written
    # Any other cookie does not count as a credential: the enrollment id still decides.
    r = httpx.post(f"{gateway.url}/api/agents/register", json={"name": "c", "customerIdentifier": "enrol-nope-001"},
                   cookies={"theme": "dark"})  # fmt: skip
    assert r.status_code == 401 and r.json()["error"] == "Invalid customerIdentifier"
    r = api(gateway, "POST", "/api/agents/heartbeat", alice, json={"status": "online"})
    assert r.status_code == 401  # a bearer token is not an agent's key
    agent = register(gateway, alice, "hb-bad")
    r = api(gateway, "POST", "/api/agents/heartbeat", key(agent), json={"status": "sleepy"})
    assert r.status_code == 400 and "status" in r.json()["error"]
    r = api(gateway, "POST", "/api/agents/heartbeat", {"X-API-Key": "mft_ak_nope"}, json={})
    assert r.status_code == 401 and r.json()["success"] is False
    assert api(gateway, "GET", "/api/agents", {}).status_code == 401
    r = api(gateway, "GET", "/api/agents", alice, params={"limit": 101})
    assert r.status_code == 400 and "limit" in r.json()["error"]


def test_admin_disables_an_agent_customer_cannot(gateway: Gateway, alice: dict[str, str], admin: httpx.Client) -> None:
    agent = register(gateway, alice, "to-disable")
    aid = agent["agent"]["id"]
    r = api(gateway, "PATCH", f"/api/agents/{aid}", alice, json={"enabled": False})
    assert r.status_code == 403
    r = admin.patch(f"/api/agents/{aid}", json={"enabled": False})
    assert r.status_code == 200 and r.json()["data"]["status"] == "disabled" and r.json()["data"]["enabled"] is False
    r = api(gateway, "POST", "/api/agents/heartbeat", key(agent), json={"status": "online"})
    assert r.status_code == 401
    assert admin.patch(f"/api/agents/{aid}", json={"enabled": True}).status_code == 409
    assert admin.patch(f"/api/agents/{aid}", json={"enabled": "no"}).status_code == 400


def test_unknown_paths_and_methods_answer_in_the_api_envelope(gateway: Gateway, alice: dict[str, str]) -> None:
    r = api(gateway, "GET", "/api/nothing/here", alice)
    assert r.status_code == 404 and r.json()["success"] is False
    r = api(gateway, "DELETE", "/api/agents", alice)
    assert r.status_code == 405 and r.json()["success"] is False and "GET" in r.headers["allow"]
    r = api(gateway, "GET", "/api", {})
    assert r.status_code == 404 and r.json() == {
        "success": False,
        "error": "Not found",
        "details": {"type": "not_found"},
    }
    assert api(gateway, "GET", "/2.0/nothing", {}).json().get("success") is None  # the /2.0 envelope there
    r = api(gateway, "PUT", "/api/health", {})
    assert r.status_code == 405 and r.json()["success"] is False


def test_rate_limit_headers_on_agent_endpoints(gateway: Gateway, alice: dict[str, str]) -> None:
    agent = register(gateway, alice, "rl")
    r = api(gateway, "POST", "/api/agents/heartbeat", key(agent), json={})
    assert r.headers["x-ratelimit-limit"] == "300" and int(r.headers["x-ratelimit-remaining"]) < 300
    r = api(gateway, "GET", "/api/agents", alice)
    assert r.headers["x-ratelimit-limit"] == "100000"  # the test world's authenticated tier


def test_the_seed_curl_examples_run_as_written(
    gateway: Gateway, alice: dict[str, str], admin: httpx.Client, tmp_path: Path
) -> None:
    """Seed 001's three curl examples, only the host and the credentials adapted."""
    curl = Curl(gateway, tmp_path / "jar.txt")
    registered = curl(
        "-X", "POST", "-H", "Content-Type: application/json", "-H", f"Authorization: {alice['Authorization']}",
        "-d", '{\n"name": "prod-server-1",\n"hostname": "server1.example.com",\n"os": "linux"\n}',
        path="/api/agents/register",
    )  # fmt: skip
    assert registered.status == 201 and registered.json()["success"] is True
    key = registered.json()["data"]["apiKey"]
    beat = curl("-X", "POST", "-H", "Content-Type: application/json", "-H", f"X-API-Key: {key}",
                "-d", '{"status": "online"}', path="/api/agents/heartbeat")  # fmt: skip
    assert beat.status == 200 and beat.json()["data"]["status"] == "online"
    token = bearer_of(gateway, admin, "root")["Authorization"]
    listed = curl("-H", f"Authorization: {token}", path="/api/agents")
    assert listed.status == 200 and "prod-server-1" in {a["name"] for a in listed.json()["data"]}
