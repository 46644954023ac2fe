"""One engine: a contract action that names a task (``task:`` + ``params:``) starts a real run of
that task on a file event, executed by the task executor like any other run, shown in
/admin/runs as a task run of the contract with its steps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import Gateway, default_config, password_hash

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    config = default_config()
    config["actors.yaml"]["actors"]["Ops"] = {
        "kind": "application",
        "users": {"root": {"password_hash": password_hash("root"), "admin": True}},
    }
    app = next(c for c in config["contracts.yaml"]["contracts"] if c["name"] == "app")
    app["actions"] = [
        {"name": "start-stamp", "on": ["upload"], "path": "/in/*.job", "task": "stamp", "params": {"label": "ctr"}}
    ]
    config["tasks.yaml"] = {
        "tasks": {
            "stamp": {
                "params": {"label": "default", "mode": "m1"},
                "steps": [
                    {"name": "copy", "route": {"vfs": "app", "path": "/out"}},
                    {"name": "say", "command": {"argv": ["/bin/echo", "{param.label} {param.mode} {path}"]}},
                ],
            }
        }
    }
    gateway = Gateway(root=tmp_path_factory.mktemp("ctask"), config=config).start()
    try:
        yield gateway
    finally:
        gateway.stop()


def _runs(gw: Gateway) -> list[dict[str, Any]]:
    admin = gw.client("root")
    try:
        r = admin.get("/admin/runs", params={"contract": "app"})
        assert r.status_code == 200, r.text
        return list(r.json()["runs"])
    finally:
        admin.close()


def test_a_contract_action_starts_its_task_on_upload(gw: Gateway) -> None:
    c = gw.client("appuser")
    try:
        assert c.put("/2.0/files/in/a.job", files={"file": ("a.job", b"job bytes")}).status_code == 201
        assert c.put("/2.0/files/in/b.txt", files={"file": ("b.txt", b"not a job")}).status_code == 201
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            runs = _runs(gw)
            if runs and runs[0]["status"] in ("Finished", "Failed"):
                break
            time.sleep(0.1)
        (run,) = runs  # b.txt matched no action
        assert (run["kind"], run["task"], run["trigger"], run["contract"]) == ("task", "stamp", "event", "app")
        assert run["status"] == "Finished", run
        assert run["params"] == {"label": "ctr", "mode": "m1"}  # the action's params over the task's defaults
        copy, say = run["steps"]
        assert copy["status"] == "Finished" and copy["files"][0]["path"] == "/out/a.job"
        assert say["output"].strip() == "ctr m1 /out/a.job"
        assert c.get("/2.0/files/out/a.job").content == b"job bytes"
    finally:
        c.close()
