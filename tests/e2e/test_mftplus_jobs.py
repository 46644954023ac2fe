"""Seed 001's jobs end to end (a real server, SQLite and PostgreSQL, a cron minute of 2 s):
CRUD and who may do what, an agent claiming its job's run with a lease (409 while another
holds it, the same run handed back on resume or after the lease expired, one run per tick),
and a job without an agent pulling from an SFTP peer as a task run of the gateway."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.connectors.peers import FaultSftp
from tests.connectors.test_sftp import fault_config
from tests.e2e.harness import Gateway
from tests.e2e.jobs_world import agent, bearer, envelope_error, world

pytestmark = pytest.mark.e2e

MINUTE = 2.0  # GATEWAY_TEST_SCHEDULE_MINUTE_SECONDS: cron minutes of 2 s, leases of 4 s


@pytest.fixture(scope="module")
def gw(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory, fault_sftp: FaultSftp) -> Iterator[Gateway]:
    config = world({"backup": fault_config(fault_sftp)})
    env = {"GATEWAY_TEST_SCHEDULE_MINUTE_SECONDS": str(MINUTE)}
    gateway = Gateway(root=tmp_path_factory.mktemp("jobs"), database_url=catalog_url, config=config, env=env)
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def admin(gw: Gateway) -> Iterator[httpx.Client]:
    with bearer(gw, "admin") as client:
        yield client


def job_body(agent_id: str | None, **extra: Any) -> dict[str, Any]:
    return {"agentId": agent_id, "name": "Daily backup", "sourcePath": "/remote/backup/",
            "destinationPath": "/local/backups/", "schedule": "* * * * *", "protocol": "sftp", "direction": "pull",
            "enabled": True, **extra}  # fmt: skip


def total(admin: httpx.Client) -> int:
    return int(admin.get("/api/jobs").json()["pagination"]["total"])


def test_job_crud_and_who_may_do_what(gw: Gateway, admin: httpx.Client) -> None:
    acme_agent, acme_key = agent(gw, "acme", "acme-crud")
    with bearer(gw, "acme") as acme, bearer(gw, "globex") as globex, acme_key:
        r = admin.post("/api/jobs", json=job_body(acme_agent, schedule="0 2 * * *", timezone="Europe/Paris"))
        assert r.status_code == 201, r.text
        job = r.json()["data"]
        assert job["agentId"] == acme_agent and job["timezone"] == "Europe/Paris" and job["nextRunAt"].endswith("Z")
        assert acme.get(f"/api/jobs/{job['id']}").json()["data"]["id"] == job["id"]
        envelope_error(globex.get(f"/api/jobs/{job['id']}"), 404)
        assert job["id"] not in {j["id"] for j in globex.get("/api/jobs").json()["data"]}
        assert job["id"] in {j["id"] for j in acme.get("/api/jobs", params={"agentId": acme_agent}).json()["data"]}
        assert job["id"] in {j["id"] for j in acme_key.get("/api/jobs", params={"agentId": "me"}).json()["data"]}
        envelope_error(acme.post("/api/jobs", json=job_body(acme_agent)), 403)
        envelope_error(acme.patch(f"/api/jobs/{job['id']}", json={"enabled": False}), 403)
        envelope_error(acme.delete(f"/api/jobs/{job['id']}"), 403)
        envelope_error(acme.get(f"/api/jobs/{job['id']}/runs"), 403)
        r = admin.patch(f"/api/jobs/{job['id']}", json={"enabled": False, "name": "Nightly"})
        assert r.status_code == 200 and r.json()["data"]["enabled"] is False and r.json()["data"]["nextRunAt"] is None
        off = admin.get("/api/jobs", params={"enabled": "false"}).json()["data"]
        assert job["id"] in {j["id"] for j in off}
        envelope_error(admin.patch(f"/api/jobs/{job['id']}", json={"schedule": "every day"}), 400)
        assert admin.get(f"/api/jobs/{job['id']}").json()["data"]["schedule"] == "0 2 * * *"  # unchanged
        assert admin.delete(f"/api/jobs/{job['id']}").json()["data"]["deleted"] is True
        envelope_error(admin.get(f"/api/jobs/{job['id']}"), 404)


@pytest.mark.parametrize(
    "change",
    [
        {"schedule": "61 * * * *"},
        {"schedule": "* * * *"},
        {"timezone": "Mars/Olympus"},
        {"direction": "sideways"},
        {"protocol": "carrier-pigeon"},
        {"enabled": "yes"},
        {"name": ""},
        {"agentId": "00000000-0000-0000-0000-000000000000"},
        {"colour": "blue"},
        {"agentId": None, "sourcePath": "nowhere:/x", "destinationPath": "app:/in"},
        {"agentId": None, "sourcePath": "backup:/outbox", "destinationPath": "app:/in", "protocol": "https"},
    ],
)
def test_job_bad_input_is_400_and_writes_nothing(admin: httpx.Client, change: dict[str, Any]) -> None:
    before = total(admin)
    envelope_error(admin.post("/api/jobs", json=job_body(None, **change) | {"agentId": change.get("agentId")}), 400)
    assert total(admin) == before


def claim(client: httpx.Client, job: str, run: str | None = None) -> httpx.Response:
    return client.post(f"/api/jobs/{job}/runs", json={"runId": run} if run else None)


def claim_when_due(client: httpx.Client, job: str) -> dict[str, Any]:
    deadline = time.monotonic() + 4 * MINUTE
    while time.monotonic() < deadline:
        r = claim(client, job)
        if r.status_code == 201:
            return dict(r.json()["data"])
        envelope_error(r, 409)
        time.sleep(0.2)
    raise AssertionError("no run became due")


def test_job_claim_lease_conflict_and_resume(gw: Gateway, admin: httpx.Client) -> None:
    acme_agent, acme_key = agent(gw, "acme", "acme-claims")
    _, globex_key = agent(gw, "globex", "globex-claims")
    with acme_key, globex_key:
        job = admin.post("/api/jobs", json=job_body(acme_agent)).json()["data"]
        envelope_error(claim(globex_key, job["id"]), 404)  # another partner's agent: not its job
        envelope_error(claim(admin, job["id"]), 403)  # only the agent starts runs
        run = claim_when_due(acme_key, job["id"])
        assert run["status"] == "running" and run["attempts"] == 1 and run["leaseExpiresAt"]
        busy = envelope_error(claim(acme_key, job["id"]), 409)
        assert busy["details"]["runId"] == run["id"]
        resumed = claim(acme_key, job["id"], run["id"])  # the agent restarted and names its run
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["data"]["id"] == run["id"] and resumed.json()["data"]["attempts"] == 1
        lease = resumed.json()["data"]["leaseExpiresAt"]
        time.sleep(0.05)
        assert acme_key.post("/api/agents/heartbeat", json={"status": "online"}).status_code == 200
        (held,) = admin.get(f"/api/jobs/{job['id']}/runs").json()["data"]
        assert held["leaseExpiresAt"] > lease  # the heartbeat renewed the lease of the run it holds
        time.sleep(2 * MINUTE + 0.5)  # the lease expires: the run is handed back, not duplicated
        again = claim(acme_key, job["id"])
        assert again.status_code == 200 and again.json()["data"]["id"] == run["id"], again.text
        assert again.json()["data"]["attempts"] == 2
        r = acme_key.patch(f"/api/jobs/{job['id']}/runs/{run['id']}", json={"status": "running", "bytesTransferred": 5})
        assert r.status_code == 200 and r.json()["data"]["bytesTransferred"] == 5
        r = acme_key.patch(
            f"/api/jobs/{job['id']}/runs/{run['id']}", json={"status": "completed", "filesTransferred": 1}
        )
        assert r.status_code == 200 and r.json()["data"]["status"] == "completed", r.text
        envelope_error(acme_key.patch(f"/api/jobs/{job['id']}/runs/{run['id']}", json={"status": "failed"}), 409)
        envelope_error(globex_key.patch(f"/api/jobs/{job['id']}/runs/{run['id']}", json={"status": "failed"}), 404)
        second = claim_when_due(acme_key, job["id"])
        assert second["id"] != run["id"] and second["scheduledFor"] > run["scheduledFor"]
        history = admin.get(f"/api/jobs/{job['id']}/runs").json()["data"]
        assert [h["id"] for h in history] == [second["id"], run["id"]]
        assert len({h["scheduledFor"] for h in history}) == 2  # one run per tick


def test_job_without_agent_runs_on_the_gateway(gw: Gateway, admin: httpx.Client, fault_sftp: FaultSftp) -> None:
    (fault_sftp.root / "outbox").mkdir(exist_ok=True)
    (fault_sftp.root / "outbox" / "report.csv").write_bytes(b"a,b\n1,2\n")
    body = job_body(None, sourcePath="backup:/outbox/*.csv", destinationPath="app:/in")
    r = admin.post("/api/jobs", json=body)
    assert r.status_code == 201, r.text
    job = r.json()["data"]
    deadline = time.monotonic() + 10 * MINUTE
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = admin.get(f"/api/jobs/{job['id']}/runs").json()["data"]
        if any(run["status"] == "completed" for run in runs):
            break
        time.sleep(0.3)
    done = [run for run in runs if run["status"] == "completed"]
    assert done, runs
    assert done[-1]["trigger"] == "schedule" and done[-1]["steps"][0]["status"] == "Finished"
    files = gw.client("appuser")
    try:
        got = files.get("/2.0/files/in/report.csv")
        assert got.status_code == 200 and got.content == b"a,b\n1,2\n"
    finally:
        files.close()
    assert admin.patch(f"/api/jobs/{job['id']}", json={"enabled": False}).status_code == 200


def test_job_hostile_ids_are_clean_answers(admin: httpx.Client) -> None:
    for job in ("%00", "%ED%A0%80", "x" * 300):
        envelope_error(admin.get(f"/api/jobs/{job}"), 404)
        envelope_error(admin.patch(f"/api/jobs/{job}/runs/{job}", json={"status": "failed"}), 404)
    assert admin.get("/api/jobs", params={"agentId": "a\x00"}).json()["data"] == []
    envelope_error(admin.post("/api/jobs", json=job_body("a\x00b")), 400)
