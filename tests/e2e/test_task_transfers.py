"""Pull and push steps of a task against the connectors' real peers: OpenSSH ``sshd`` as the
partner we pull from (delete the source), the fault-injecting asyncssh server as the one we push
to (a dropped connection retried to one complete file), and an unknown host key refused."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.catalog.passwords import hash_password
from tests.connectors.peers import FaultSftp, Sshd, make_file, sha256_file
from tests.connectors.test_sftp import fault_config, sshd_config
from tests.e2e.harness import Gateway, default_config, password_hash

pytestmark = pytest.mark.e2e

SCOPE = "api.rest.automation-services-job.execute"


def config(sshd: Sshd, fault_sftp: FaultSftp) -> dict[str, dict[str, Any]]:
    cfg = default_config()
    cfg["actors.yaml"]["actors"]["Ops"] = {
        "kind": "application",
        "users": {"root": {"password_hash": password_hash("root"), "admin": True}},
        "service_accounts": {"opbot": {"roles": ["operator"]}},
    }
    cfg["oauth-clients.yaml"] = {
        "clients": {
            "jobs": {"principal": "opbot", "scopes": [SCOPE, "runs:read"], "secret_hash": hash_password("s3cr3t")}
        }
    }
    stranger = dict(sshd_config(sshd), host_keys=[fault_sftp.host_key_line])  # sshd's real key is not this one
    cfg["connections.yaml"] = {
        "connections": {"partner": sshd_config(sshd), "backup": fault_config(fault_sftp), "stranger": stranger}
    }
    retry = {"max_attempts": 3, "backoff_seconds": 0.2, "max_backoff_seconds": 0.5}
    cfg["tasks.yaml"] = {
        "tasks": {
            "relay": {
                "steps": [
                    {
                        "name": "fetch",
                        "pull": {
                            "connection": "partner",
                            "folder": "outbox",
                            "glob": "*.csv",
                            "vfs": "app",
                            "path": "/in",
                            "delete_source": True,
                        },
                    },  # fmt: skip
                    {"name": "forward", "push": {"connection": "backup", "folder": "inbox"}, "retry": retry},
                ],
            },
            "bigpull": {
                "steps": [
                    {
                        "name": "fetch",
                        "pull": {"connection": "partner", "folder": "big", "vfs": "pa", "path": "/inbox"},
                    },
                    {"name": "forward", "push": {"connection": "backup", "folder": "big"}},
                ]
            },
            "limited": {
                "steps": [
                    {"name": "fetch", "pull": {"connection": "partner", "folder": "big", "vfs": "app", "path": "/in"}}
                ]
            },
            "slowpush": {
                "params": {"file": "a.csv"},
                "input": {"vfs": "app", "path": "/in/{file}"},
                "steps": [{"name": "send", "push": {"connection": "backup", "folder": "slow"}}],
            },
            "untrusted": {
                "steps": [
                    {
                        "name": "fetch",
                        "pull": {"connection": "stranger", "folder": "outbox", "vfs": "app", "path": "/in"},
                        "retry": retry,
                    }
                ]
            },
        }
    }
    return cfg


@pytest.fixture(scope="module")
def gw(sshd: Sshd, fault_sftp: FaultSftp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = Gateway(root=tmp_path_factory.mktemp("gw"), config=config(sshd, fault_sftp)).start()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def api(gw: Gateway) -> Iterator[httpx.Client]:
    r = httpx.post(f"{gw.url}/oauth2/token", auth=("jobs", "s3cr3t"), data={"grant_type": "client_credentials"})
    assert r.status_code == 200, r.text
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {r.json()['access_token']}"}) as client:
        yield client


def run_job(api: httpx.Client, task: str) -> dict[str, Any]:
    job = api.post("/rest/as/job/start-library", params={"path": task}).json()["JobId"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = api.get(f"/rest/as/job/status/{job}").json()
        if status["StatusCode"] in ("Finished", "Failed", "Canceled"):
            return dict(api.get(f"/admin/runs/{job}").json()["run"])
        time.sleep(0.2)
    raise AssertionError(f"job {job} did not end")


def test_pull_deletes_the_source_and_push_survives_a_dropped_connection(
    gw: Gateway, api: httpx.Client, sshd: Sshd, fault_sftp: FaultSftp
) -> None:
    outbox = sshd.root / "outbox"
    outbox.mkdir(exist_ok=True)
    big, small = os.urandom(700_000), b"id;amount\n1;2\n"
    (outbox / "a.csv").write_bytes(big)
    (outbox / "b.csv").write_bytes(small)
    (outbox / "keep.txt").write_bytes(b"not matched by the glob")
    (fault_sftp.root / "inbox").mkdir(exist_ok=True)
    fault_sftp.faults.drop_after, fault_sftp.faults.drops_left = 300_000, 1
    run = run_job(api, "relay")
    fault_sftp.faults.reset()
    assert run["status"] == "Finished", (run["lastError"], run["steps"])
    fetch, forward = run["steps"]
    assert fetch["status"] == "Finished" and fetch["bytes"] == len(big) + len(small)
    assert [f["path"] for f in fetch["files"]] == ["/in/a.csv", "/in/b.csv"]
    assert sorted(p.name for p in outbox.iterdir()) == ["keep.txt"]  # pulled sources deleted, others kept
    assert forward["status"] == "Finished" and forward["attempts"] == 2, forward
    pushed = sorted(p.name for p in (fault_sftp.root / "inbox").iterdir())
    assert pushed == ["a.csv", "b.csv"]  # one complete file each, no temporary part left
    assert hashlib.sha256((fault_sftp.root / "inbox" / "a.csv").read_bytes()).digest() == hashlib.sha256(big).digest()
    c = gw.client("appuser")
    try:
        assert c.get("/2.0/files/in/a.csv").content == big
    finally:
        c.close()
    # i13a: each file a step moved is a transfer row of the run (the dropped push attempt a failed one).
    time.sleep(0.8)  # rows are written in 0.25 s batches
    root = gw.client("root")
    try:
        rows = [
            t for t in root.get("/api/transfers", params={"limit": 100}).json()["data"] if t["runId"] == int(run["id"])
        ]
    finally:
        root.close()
    done = {(t["direction"], t["destinationPath"], t["sha256"]) for t in rows if t["status"] == "completed"}
    digest = hashlib.sha256(big).hexdigest()
    assert ("pull", "app:/in/a.csv", digest) in done and ("push", "backup:inbox/a.csv", digest) in done, rows
    assert any(t["direction"] == "push" and t["status"] == "failed" for t in rows), rows


def test_unknown_host_key_fails_the_step_without_retrying(api: httpx.Client, sshd: Sshd) -> None:
    (sshd.root / "outbox").mkdir(exist_ok=True)
    (sshd.root / "outbox" / "c.csv").write_bytes(b"x")
    run = run_job(api, "untrusted")
    assert run["status"] == "Failed"
    (fetch,) = run["steps"]
    assert fetch["status"] == "Failed" and fetch["attempts"] == 1 and "host key" in fetch["error"].lower()
    assert (sshd.root / "outbox" / "c.csv").exists()


def test_abort_cancels_a_transfer_in_flight(gw: Gateway, api: httpx.Client, fault_sftp: FaultSftp) -> None:
    c = gw.client("appuser")
    try:
        assert c.put("/2.0/files/in/big.bin", files={"file": ("big.bin", os.urandom(1_000_000))}).status_code == 201
    finally:
        c.close()
    (fault_sftp.root / "slow").mkdir(exist_ok=True)
    fault_sftp.faults.write_delay = 0.3  # about 5 s for the file: long enough to abort in the middle
    try:
        r = api.post("/rest/as/job/start-library", params={"path": "slowpush"}, json={"file": "big.bin"})
        job = r.json()["JobId"]
        deadline = time.monotonic() + 20
        while api.get(f"/rest/as/job/status/{job}").json()["StatusCode"] != "InProgress":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(1.0)
        started = time.monotonic()
        api.post(f"/rest/as/job/abort/{job}", params={"reason": "wrong file"})
        while api.get(f"/rest/as/job/status/{job}").json()["StatusCode"] == "InProgress":
            assert time.monotonic() - started < 3, "the abort did not stop the transfer"
            time.sleep(0.05)
    finally:
        fault_sftp.faults.reset()
    status = api.get(f"/rest/as/job/status/{job}").json()
    assert status["StatusCode"] == "Canceled" and "wrong file" in status["Message"]
    assert not (fault_sftp.root / "slow" / "big.bin").exists()  # never published under its name


def test_100_mib_pull_and_push_stream_with_flat_memory(
    gw: Gateway, api: httpx.Client, sshd: Sshd, fault_sftp: FaultSftp
) -> None:
    (sshd.root / "big").mkdir(exist_ok=True)
    (fault_sftp.root / "big").mkdir(exist_ok=True)
    digest = make_file(sshd.root / "big" / "huge.bin", 100 * 2**20)
    before = gw.hwm_kib()
    run = run_job(api, "bigpull")
    assert run["status"] == "Finished", (run["lastError"], run["steps"])
    assert [s["bytes"] for s in run["steps"]] == [100 * 2**20, 100 * 2**20]
    assert sha256_file(fault_sftp.root / "big" / "huge.bin") == digest
    grown = gw.hwm_kib() - before
    assert grown < 64 * 1024, f"peak RSS grew by {grown} KiB for a 100 MiB file"  # streamed, never held whole
    limited = run_job(api, "limited")  # VFS app accepts 1 MiB at most
    (fetch,) = limited["steps"]
    assert limited["status"] == "Failed" and "exceeds the largest file" in fetch["error"] and fetch["attempts"] == 1
    c = gw.client("appuser")
    try:
        assert c.get("/2.0/files/in/huge.bin").status_code == 404  # nothing half-stored
    finally:
        c.close()
