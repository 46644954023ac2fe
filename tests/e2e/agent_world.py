"""The world of the agent tests: two partners with an http contract each, an admin, enrolments,
and ``AgentProcess``, one real ``mft-gateway agent`` subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.harness import SERVE, Gateway, default_config, password_hash

ENROL_A = "enrol-partner-a-0001"
ENROL_B = "enrol-partner-b-0001"


def agent_config(enrollments: bool = True) -> dict[str, dict[str, Any]]:
    """The default test world plus PartnerB (bella, VFS ``pb`` with /inbox and /outbox, http), an
    admin ``root``, and one enrolment per partner (alice of PartnerA, bella of PartnerB)."""
    config = default_config()
    actors = config["actors.yaml"]["actors"]
    actors["PartnerB"] = {"kind": "partner", "users": {"bella": {"password_hash": password_hash("bella")}}}
    actors["Ops"] = {"kind": "application", "users": {"root": {"password_hash": password_hash("root"), "admin": True}}}
    config["vfs.yaml"]["vfs"]["pb"] = {"actor": "PartnerB", "acl": False, "paths": {"/inbox": None, "/outbox": None}}
    config["contracts.yaml"]["contracts"].append({"name": "pb", "actor": "PartnerB", "protocol": "http", "vfs": "pb"})
    config["gateway.yaml"]["rate_limits"]["agent"] = 1_000_000  # agents here poll every 0.5 s
    if not enrollments:
        return config
    config["gateway.yaml"]["agents"] = {
        "offline_after_seconds": 5,
        "enrollments": [
            {"id": ENROL_A, "customer": "alice", "uses": 10},
            {"id": ENROL_B, "customer": "bella", "uses": 10},
        ],
    }
    return config


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


class AgentProcess:
    """``mft-gateway agent`` against ``gateway``, its state and log in ``root``."""

    def __init__(
        self,
        gateway: Gateway,
        root: Path,
        *,
        enroll: str | None = None,
        key: str | None = None,
        ca_file: Path | None = None,
    ) -> None:
        self.gateway = gateway
        self.ca_file = ca_file
        self.root = root
        self.enroll = enroll
        self.key = key
        self.process: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def log_path(self) -> Path:
        return self.root / "agent.log"

    def state(self) -> dict[str, Any]:
        path = self.state_dir / "agent-state.json"
        return dict(json.loads(path.read_text())) if path.exists() else {}

    def start(self, env: dict[str, str] | None = None) -> AgentProcess:
        args = [str(SERVE), "agent", "--server", self.gateway.url, "--state-dir", str(self.state_dir)]
        args += ["--heartbeat-seconds", "0.5", "--poll-seconds", "0.5", "--name", self.root.name]
        if self.enroll:
            args += ["--enroll", self.enroll]
        if self.key:
            args += ["--key", self.key]
        if self.ca_file:
            args += ["--ca-file", str(self.ca_file)]
        base = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=base | (env or {}))
        return self

    def agent_id(self) -> str:
        return str(wait_for("the agent's id in its state file", lambda: self.state().get("agentId"), 30))

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def api_key_for(admin: httpx.Client, owner: str) -> str:
    """A plain API key of ``owner`` (the /2.0 side of the agent works with any key of a partner)."""
    r = admin.post("/admin/api-keys", json={"owner": owner, "name": f"agent test key of {owner}"})
    assert r.status_code == 201, r.text
    return str(r.json()["key"])
