"""``mft-gateway agent`` end to end: a real gateway, real agent processes, real files.

Two partners each enrol an agent; each agent gets a job pushing a local folder into its
partner's VFS and one pulling it back out. Killed with ``kill -9`` in the middle of a file, a
restarted agent finishes the same run and the same transfer row without a duplicate; SIGTERM
exits 0 with a checkpoint; a disabled agent exits with a message. The scheduler's test minute
(``GATEWAY_TEST_SCHEDULE_MINUTE_SECONDS``) makes ``* * * * *`` tick every 2 s instead of 60 s.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.agent_world import ENROL_A, ENROL_B, AgentProcess, agent_config, wait_for
from tests.e2e.harness import Gateway, running

MINUTE = "2"
SLOW = {"GATEWAY_TEST_AGENT_CHUNK_DELAY": "0.15"}


@pytest.fixture(scope="module")
def gateway(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    env = {"GATEWAY_TEST_SCHEDULE_MINUTE_SECONDS": MINUTE}
    gw = Gateway(root=tmp_path_factory.mktemp("gw"), database_url=catalog_url, config=agent_config(), env=env)
    with running(gw):
        yield gw


@pytest.fixture(scope="module")
def admin(gateway: Gateway) -> Iterator[httpx.Client]:
    with contextlib.closing(gateway.client("root")) as client:
        yield client


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    """Agent processes a test starts; each is stopped (SIGTERM, then SIGKILL) at the end."""
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        agent.stop()


def _data(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is True, body
    return body["data"]


def _job(admin: httpx.Client, agent_id: str, name: str, source: str, destination: str, direction: str) -> str:
    body = {
        "agentId": agent_id,
        "name": name,
        "sourcePath": source,
        "destinationPath": destination,
        "schedule": "* * * * *",
        "protocol": "http",
        "direction": direction,
        "enabled": True,
    }
    return str(_data(admin.post("/api/jobs", json=body), 201)["id"])


def _disable(admin: httpx.Client, *job_ids: str) -> None:
    for job_id in job_ids:
        _data(admin.patch(f"/api/jobs/{job_id}", json={"enabled": False}))


def _transfers(admin: httpx.Client, agent_id: str) -> list[dict[str, Any]]:
    """The transfers listed under the agent: only the ones it reported (push/pull). Its /2.0
    requests name their row (X-MFT-Transfer-Id), so the gateway adds no second row for them."""
    rows: list[dict[str, Any]] = _data(admin.get(f"/api/agents/{agent_id}/transfers", params={"limit": 100}))
    assert [t for t in rows if t["direction"] not in ("push", "pull")] == []
    return rows


def _files(folder: Path, count: int, size: int) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    made = {f"file-{i}.bin": os.urandom(size + i) for i in range(count)}
    for name, data in made.items():
        (folder / name).write_bytes(data)
    return made


def _same(folder: Path, expected: dict[str, bytes]) -> bool:
    if not folder.is_dir():
        return False
    present = {p.name: p.read_bytes() for p in folder.iterdir()}
    return present == expected


def _vfs_names(gateway: Gateway, user: str, folder: str) -> list[str]:
    with contextlib.closing(gateway.client(user)) as client:
        r = client.get(f"/2.0/directories/{folder}", params={"type": "files"})
        assert r.status_code == 200, r.text
        return sorted(e["name"] for e in r.json()["elements"])


def test_two_agents_of_two_partners_move_files_in_and_back_out(
    gateway: Gateway, admin: httpx.Client, agents: list[AgentProcess], tmp_path: Path
) -> None:
    a = AgentProcess(gateway, tmp_path / "agent-a", enroll=ENROL_A).start()
    b = AgentProcess(gateway, tmp_path / "agent-b", enroll=ENROL_B).start()
    agents += [a, b]
    a_id, b_id = a.agent_id(), b.agent_id()
    a_files = _files(tmp_path / "a-out", 3, 300_000)
    b_files = _files(tmp_path / "b-out", 2, 700_000)
    jobs = [
        _job(admin, a_id, "a in", str(tmp_path / "a-out"), "pa:/inbox", "push"),
        _job(admin, a_id, "a out", "pa:/inbox", str(tmp_path / "a-back"), "pull"),
        _job(admin, b_id, "b in", str(tmp_path / "b-out"), "/inbox", "push"),
        _job(admin, b_id, "b out", "/inbox", str(tmp_path / "b-back"), "pull"),
    ]
    try:
        wait_for("A's files back out", lambda: _same(tmp_path / "a-back", a_files), 90)
        wait_for("B's files back out", lambda: _same(tmp_path / "b-back", b_files), 90)
    finally:
        _disable(admin, *jobs)
    assert _vfs_names(gateway, "alice", "inbox") == sorted(a_files)
    assert _vfs_names(gateway, "bella", "inbox") == sorted(b_files)
    for agent_id, files in ((a_id, a_files), (b_id, b_files)):
        want = 2 * len(files)
        rows = wait_for("finished transfers", functools.partial(_finished, admin, agent_id, want), 30)
        shas = {hashlib.sha256(d).hexdigest() for d in files.values()}
        for direction in ("push", "pull"):
            moved = [t for t in rows if t["direction"] == direction]
            assert len(moved) == len(files), moved  # each file exactly once each way
            assert {t["sha256"] for t in moved} == shas
            assert all(t["status"] == "completed" and t["progress"] == 100 for t in moved)
            assert all(t["bytesTransferred"] == t["size"] for t in moved)
    # a partner sees its own agent, and the other's as not existing
    with contextlib.closing(gateway.client("alice")) as alice:
        assert _data(alice.get(f"/api/agents/{a_id}"))["id"] == a_id
        r = alice.get(f"/api/agents/{b_id}")
        assert r.status_code == 404 and r.json()["success"] is False
        assert alice.get(f"/api/agents/{b_id}/transfers").status_code == 404
        b_transfer = _transfers(admin, b_id)[0]["id"]
        assert alice.get(f"/api/transfers/{b_transfer}").status_code == 404
        assert b_transfer not in {t["id"] for t in _data(alice.get("/api/transfers", params={"limit": 100}))}
    for agent in (a, b):
        agent.signal(signal.SIGTERM)
        assert agent.wait(20) == 0, agent.log()


def _finished(admin: httpx.Client, agent_id: str, count: int) -> list[dict[str, Any]] | None:
    rows = _transfers(admin, agent_id)
    done = [t for t in rows if t["status"] in ("completed", "failed")]
    return rows if len(done) >= count and len(done) == len(rows) else None


def _moving(admin: httpx.Client, agent_id: str) -> dict[str, Any] | None:
    for t in _transfers(admin, agent_id):
        if t["status"] == "running" and 0 < t["bytesTransferred"] < (t["size"] or 0):
            return t
    return None


def test_kill_9_in_the_middle_of_a_file_then_restart_finishes_it_once(
    gateway: Gateway, admin: httpx.Client, agents: list[AgentProcess], tmp_path: Path
) -> None:
    agent = AgentProcess(gateway, tmp_path / "agent-k", enroll=ENROL_A).start(env=SLOW)
    agents.append(agent)
    agent_id = agent.agent_id()
    big = _files(tmp_path / "big", 1, 6 * 1024 * 1024)
    job = _job(admin, agent_id, "big in", str(tmp_path / "big"), "/outbox", "push")
    try:
        moving = wait_for("the upload under way", lambda: _moving(admin, agent_id), 60, 0.1)
        run_before = agent.state()["run"]["runId"]
        agent.process.kill()  # type: ignore[union-attr]
        agent.wait()
        assert "file-0.bin" not in _vfs_names(gateway, "alice", "outbox")  # a cut upload leaves nothing
        agent.start()  # full speed now
        rows = wait_for("the transfer completed", lambda: _finished(admin, agent_id, 1), 60)
    finally:
        _disable(admin, job)
    assert [t["id"] for t in rows] == [moving["id"]]  # the same row, not a second one
    assert rows[0]["progress"] == 100 and rows[0]["sha256"] == hashlib.sha256(big["file-0.bin"]).hexdigest()
    assert _vfs_names(gateway, "alice", "outbox").count("file-0.bin") == 1
    with contextlib.closing(gateway.client("alice")) as alice:
        assert alice.get("/2.0/files/outbox/file-0.bin").content == big["file-0.bin"]
    runs = _data(admin.get(f"/api/jobs/{job}/runs"))
    finished = [r for r in runs if r["id"] == run_before]
    assert finished and finished[0]["status"] == "completed", runs  # the claimed run was resumed
    assert (finished[0]["filesTransferred"], finished[0]["bytesTransferred"]) == (1, len(big["file-0.bin"]))


def test_kill_9_in_the_middle_of_a_download_resumes_it_into_one_file(
    gateway: Gateway, admin: httpx.Client, agents: list[AgentProcess], tmp_path: Path
) -> None:
    data = os.urandom(6 * 1024 * 1024)
    with contextlib.closing(gateway.client("bella")) as bella:
        assert bella.put("/2.0/files/outbox/big-out.bin", files={"file": ("big-out.bin", data)}).status_code == 201
    agent = AgentProcess(gateway, tmp_path / "agent-p", enroll=ENROL_B).start(env=SLOW)
    agents.append(agent)
    agent_id = agent.agent_id()
    target = tmp_path / "landing"
    job = _job(admin, agent_id, "big out", "pb:/outbox", str(target), "pull")
    try:
        moving = wait_for("the download under way", lambda: _moving(admin, agent_id), 60, 0.1)
        agent.process.kill()  # type: ignore[union-attr]
        agent.wait()
        partial = target / ".big-out.bin.mft-part"
        assert 0 < partial.stat().st_size < len(data) and not (target / "big-out.bin").exists()
        agent.start()
        rows = wait_for("the transfer completed", lambda: _finished(admin, agent_id, 1), 60)
    finally:
        _disable(admin, job)
    assert [t["id"] for t in rows] == [moving["id"]] and rows[0]["progress"] == 100
    assert rows[0]["sourceUrl"] == f"{gateway.url}/2.0/files/outbox/big-out.bin"
    assert rows[0]["destinationPath"] == str(target / "big-out.bin")
    assert sorted(p.name for p in target.iterdir()) == ["big-out.bin"]  # no partial, no second copy
    assert (target / "big-out.bin").read_bytes() == data


def test_sigterm_in_the_middle_of_a_file_exits_0_with_a_checkpoint(
    gateway: Gateway, admin: httpx.Client, agents: list[AgentProcess], tmp_path: Path
) -> None:
    agent = AgentProcess(gateway, tmp_path / "agent-t", enroll=ENROL_B).start(env=SLOW)
    agents.append(agent)
    agent_id = agent.agent_id()
    _files(tmp_path / "t", 1, 6 * 1024 * 1024)
    job = _job(admin, agent_id, "term in", str(tmp_path / "t"), "/outbox", "push")
    try:
        moving = wait_for("the upload under way", lambda: _moving(admin, agent_id), 60, 0.1)
        agent.signal(signal.SIGTERM)
        assert agent.wait(10) == 0, agent.log()
    finally:
        _disable(admin, job)
    assert "stopped" in agent.log()
    assert agent.state()["run"]["current"]["transferId"] == moving["id"]
    # restarted after its job was disabled, the agent drops the run and cancels the file's transfer
    agent.start()
    wait_for("the run dropped", lambda: "run" not in agent.state(), 30)
    assert _data(admin.get(f"/api/transfers/{moving['id']}"))["status"] == "cancelled"


def test_a_disabled_agent_exits_with_a_clear_message(
    gateway: Gateway, admin: httpx.Client, agents: list[AgentProcess], tmp_path: Path
) -> None:
    agent = AgentProcess(gateway, tmp_path / "agent-d", enroll=ENROL_B).start()
    agents.append(agent)
    agent_id = agent.agent_id()
    _data(admin.patch(f"/api/agents/{agent_id}", json={"enabled": False}))
    assert agent.wait(20) == 3
    assert "refused this agent" in agent.log() and "disabled" in agent.log()


def test_without_a_key_or_enrolment_the_agent_says_what_to_do(gateway: Gateway, tmp_path: Path) -> None:
    agent = AgentProcess(gateway, tmp_path / "agent-n").start()
    assert agent.wait(20) == 2
    assert "pass --key, or --enroll" in agent.log()
