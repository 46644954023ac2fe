"""A job without an agent on two gateway processes sharing one PostgreSQL: its cron ticks
(minutes of 2 s) fire exactly once across both, each tick one task run, none lost."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests import pg
from tests.connectors.peers import FaultSftp
from tests.connectors.test_sftp import fault_config
from tests.e2e.harness import Gateway
from tests.e2e.jobs_world import bearer, world

pytestmark = pytest.mark.e2e

MINUTE = 2.0


@pytest.fixture
def database() -> Iterator[str]:
    with pg.fresh_database() as url:
        yield url


def test_job_without_agent_fires_each_tick_once_across_two_peers(
    database: str, tmp_path_factory: pytest.TempPathFactory, fault_sftp: FaultSftp
) -> None:
    (fault_sftp.root / "peers-empty").mkdir(exist_ok=True)
    config = world({"backup": fault_config(fault_sftp)})
    env = {"GATEWAY_TEST_SCHEDULE_MINUTE_SECONDS": str(MINUTE)}
    peers = [
        Gateway(root=tmp_path_factory.mktemp(f"peer{i}"), database_url=database, config=config, env=env).start()
        for i in range(2)
    ]
    try:
        with bearer(peers[0], "admin") as admin:
            body = {"agentId": None, "name": "every minute", "sourcePath": "backup:/peers-empty",
                    "destinationPath": "app:/in", "schedule": "* * * * *", "protocol": "sftp",
                    "direction": "pull"}  # fmt: skip
            r = admin.post("/api/jobs", json=body)
            assert r.status_code == 201, r.text
            job = r.json()["data"]["id"]
            time.sleep(5 * MINUTE + 1)
            assert admin.patch(f"/api/jobs/{job}", json={"enabled": False}).status_code == 200
            time.sleep(1)
            runs = admin.get(f"/api/jobs/{job}/runs", params={"limit": 100}).json()["data"]
    finally:
        for peer in peers:
            peer.stop()
    ticks = pg.fetch(database, f"SELECT tick, run_id FROM schedule_ticks WHERE schedule = 'job-{job}' ORDER BY tick")
    assert len(ticks) >= 4, ticks
    gaps = {b["tick"] - a["tick"] for a, b in zip(ticks, ticks[1:], strict=False)}
    assert gaps == {int(MINUTE * 1_000_000)}, gaps  # contiguous: no tick lost
    assert all(t["run_id"] for t in ticks)
    assert sorted(int(r["id"]) for r in runs) == sorted(t["run_id"] for t in ticks)  # one run per tick
    assert {r["trigger"] for r in runs} == {"schedule"}
    logs = [peer.log() for peer in peers]
    assert all("Traceback" not in log for log in logs)
