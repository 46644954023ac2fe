"""An agent over the ``agent`` rate-limit tier is answered 429: it waits for ``Retry-After`` and
carries on, so a run of many small files slows down but completes, each file moved once."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.agent_world import ENROL_A, AgentProcess, agent_config, wait_for
from tests.e2e.harness import Gateway, running

LIMIT = 25  # requests a minute: a heartbeat and a poll every 0.5 s use it up within 10 s


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    config = agent_config()
    config["gateway.yaml"]["rate_limits"]["agent"] = LIMIT
    env = {"GATEWAY_TEST_SCHEDULE_MINUTE_SECONDS": "2"}
    with running(Gateway(root=tmp_path_factory.mktemp("gw-limits"), config=config, env=env)) as gw:
        yield gw


def test_a_rate_limited_agent_waits_and_completes_its_run(gateway: Gateway, tmp_path: Path) -> None:
    out = tmp_path / "many"
    out.mkdir()
    for i in range(12):
        (out / f"small-{i:02}.txt").write_text(f"file {i}\n")
    agent = AgentProcess(gateway, tmp_path / "agent-l", enroll=ENROL_A).start()
    try:
        agent_id = agent.agent_id()
        with contextlib.closing(gateway.client("root")) as admin:
            body = {"agentId": agent_id, "name": "many in", "sourcePath": str(out), "destinationPath": "/httpapi",
                    "schedule": "* * * * *", "protocol": "http", "direction": "push", "enabled": True}  # fmt: skip
            r = admin.post("/api/jobs", json=body)
            assert r.status_code == 201, r.text

            def done() -> list[dict[str, object]] | None:
                listed = admin.get(f"/api/agents/{agent_id}/transfers", params={"limit": 100}).json()["data"]
                rows = [t for t in listed if t["direction"] == "push"]  # not the gateway's own /2.0 rows
                return rows if sum(t["status"] == "completed" for t in rows) == 12 else None

            rows = wait_for("12 files moved despite 429s", done, 150, 1.0)
            admin.patch(f"/api/jobs/{r.json()['data']['id']}", json={"enabled": False})
        assert len(rows) == 12 and all(t["progress"] == 100 for t in rows)
        assert sorted(str(t["destinationPath"]) for t in rows) == [f"/httpapi/small-{i:02}.txt" for i in range(12)]
        limited = [line for line in gateway.log().splitlines() if " /api/" in line and '" 429 ' in line]
        assert limited, "the test did not reach the rate limit: it proves nothing"
    finally:
        agent.stop()
