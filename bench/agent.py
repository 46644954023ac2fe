"""One agent moving one big file each way through a real gateway: wall time, MiB/s, the agent's
peak resident set, and how many progress reports it sent (at most one a second).

    .venv/bin/python bench/agent.py [--mib 256]

Loopback only, SQLite catalog; the machine may be shared, so read the numbers as an order of
magnitude.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.agent_world import ENROL_A, AgentProcess, agent_config, wait_for
from tests.e2e.harness import Gateway, running


def _hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=256)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="agent-bench-"))
    env = {"GATEWAY_TEST_SCHEDULE_MINUTE_SECONDS": "2"}
    with running(Gateway(root=root / "gw", config=agent_config(), env=env)) as gw:
        out = root / "out"
        out.mkdir()
        big = out / "big.bin"
        with big.open("wb") as f:
            for _ in range(args.mib):
                f.write(os.urandom(1024 * 1024))
        agent = AgentProcess(gw, root / "agent", enroll=ENROL_A).start()
        try:
            agent_id = agent.agent_id()
            with contextlib.closing(gw.client("root")) as admin:
                results = {}
                moves = (("push", str(out), "/outbox"), ("pull", "/outbox", str(root / "back")))
                for direction, source, destination in moves:
                    body = {
                        "agentId": agent_id,
                        "name": direction,
                        "sourcePath": source,
                        "destinationPath": destination,
                        "schedule": "* * * * *",
                        "protocol": "http",
                        "direction": direction,
                        "enabled": True,
                    }
                    job = admin.post("/api/jobs", json=body).json()["data"]["id"]

                    def finished(d: str = direction) -> dict[str, object] | None:
                        rows = admin.get(f"/api/agents/{agent_id}/transfers", params={"limit": 100}).json()["data"]
                        done = [t for t in rows if t["direction"] == d and t["status"] == "completed"]
                        return done[0] if done else None

                    row = wait_for(f"{direction} done", finished, 600, 0.2)
                    admin.patch(f"/api/jobs/{job}", json={"enabled": False})
                    results[direction] = row
                assert agent.process is not None
                hwm = _hwm_kib(agent.process.pid)
        finally:
            agent.stop()
        patches = sum(1 for line in gw.log().splitlines() if '"PATCH /api/transfers/' in line)
    for direction, row in results.items():
        print(f"{direction}: {args.mib} MiB, agent-reported speed {int(str(row['speed'])) / 2**20:.0f} MiB/s")
    print(f"agent peak RSS: {hwm / 1024:.0f} MiB; PATCH /api/transfers calls: {patches} for 2 files")


if __name__ == "__main__":
    main()
