"""Tasks end to end through seed 004's /rest/as/job API: a route + command pipeline started by
name and from an inline definition, polled, aborted (its command killed), refused when busy;
retries, on_error and per-step state; the scope and the error answers. SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.catalog.passwords import hash_password
from tests.e2e.harness import Gateway, default_config, password_hash

pytestmark = pytest.mark.e2e

SCOPE = "api.rest.automation-services-job.execute"
JOBS = "/rest/as/job"


def tasks_config() -> dict[str, dict[str, Any]]:
    config = default_config()
    actors = config["actors.yaml"]["actors"]
    actors["Ops"] = {
        "kind": "application",
        "users": {"root": {"password_hash": password_hash("root"), "admin": True}},
        "service_accounts": {"opbot": {"roles": ["operator"]}, "filebot": {"roles": ["partner"]}},
    }
    config["oauth-clients.yaml"] = {
        "clients": {
            "jobs": {"principal": "opbot", "scopes": [SCOPE, "runs:read"], "secret_hash": hash_password("jobs-secret")},
            "files": {"principal": "filebot", "scopes": ["files:read"], "secret_hash": hash_password("files-secret")},
        }
    }
    config["tasks.yaml"] = {
        "limits": {"max_active_runs": 20},
        "tasks": {
            "publish": {
                "params": {"file": "a.txt", "label": "demo"},
                "input": {"vfs": "app", "path": "/in/{file}"},
                "concurrency": 3,
                "steps": [
                    {"name": "copy", "route": {"vfs": "app", "path": "/out"}},
                    {"name": "log", "command": {"argv": ["/bin/echo", "{param.label} {path} {size} {sha256}"]}},
                ],
            },
            "stamp": {
                "trigger": {"vfs": "app", "on": ["upload"], "path": "/in/*.trig"},
                "steps": [
                    {"name": "copy", "route": {"vfs": "app", "path": "/out"}},
                    {"name": "log", "command": {"argv": ["/bin/echo", "event {event_type} {path}"]}},
                ],
            },
            "flaky": {
                "steps": [
                    {
                        "name": "fails",
                        "command": {"argv": ["/bin/false"]},
                        "retry": {"max_attempts": 2, "backoff_seconds": 0.1, "max_backoff_seconds": 0.2},
                        "on_error": "continue",
                    },
                    {"name": "after", "command": {"argv": ["/bin/echo", "still here"]}},
                ],
            },
            "late": {
                "steps": [{"name": "nap", "command": {"argv": ["/bin/sleep", "7.5"]}, "timeout_seconds": 0.5}],
            },
            "strict": {
                "steps": [
                    {"name": "fails", "command": {"argv": ["/bin/false"]}},
                    {"name": "never", "command": {"argv": ["/bin/echo", "unreachable"]}},
                ],
            },
            "slow": {
                "params": {"seconds": "30.5"},
                "concurrency": 1,
                "on_busy": "refuse",
                "steps": [
                    {"name": "sleep", "command": {"argv": ["/bin/sleep", "{param.seconds}"], "timeout_seconds": 120}}
                ],
            },
        },
    }
    return config


@pytest.fixture(scope="module")
def gw(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = Gateway(root=tmp_path_factory.mktemp("tasks"), database_url=catalog_url, config=tasks_config()).start()
    try:
        yield gateway
    finally:
        gateway.stop()


def token(gw: Gateway, client: str, secret: str, scope: str = SCOPE) -> str:
    r = httpx.post(
        f"{gw.url}/oauth2/token", auth=(client, secret), data={"grant_type": "client_credentials", "scope": scope}
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.fixture(scope="module")
def api(gw: Gateway) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {token(gw, 'jobs', 'jobs-secret', f'{SCOPE} runs:read')}"}
    with httpx.Client(base_url=gw.url, headers=headers, timeout=30) as client:
        yield client


def wait(api: httpx.Client, job: str, until: tuple[str, ...] = ("Finished", "Failed", "Canceled")) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = api.get(f"{JOBS}/status/{job}")
        assert r.status_code == 200, r.text
        if r.json()["StatusCode"] in until:
            return dict(r.json())
        time.sleep(0.1)
    raise AssertionError(f"job {job} did not reach {until}: {r.json()}")


def admin_run(api: httpx.Client, job: str) -> dict[str, Any]:
    r = api.get(f"/admin/runs/{job}")
    assert r.status_code == 200, r.text
    return dict(r.json()["run"])


def upload(gw: Gateway, name: str, data: bytes) -> None:
    c = gw.client("appuser")
    try:
        assert c.put(f"/2.0/files/in/{name}", files={"file": (name, data)}).status_code == 201
    finally:
        c.close()


def test_pipeline_started_by_name_routes_and_logs_the_file(gw: Gateway, api: httpx.Client) -> None:
    upload(gw, "p1.txt", b"pipeline bytes")
    r = api.post(f"{JOBS}/start-library", params={"path": "publish"}, json={"file": "p1.txt", "label": "L1"})
    assert r.status_code == 200, r.text
    started = r.json()
    assert started["StatusCode"] == "Queued" and started["JobId"].isdigit()
    assert wait(api, started["JobId"])["StatusCode"] == "Finished"
    c = gw.client("appuser")
    try:
        assert c.get("/2.0/files/out/p1.txt").content == b"pipeline bytes"
    finally:
        c.close()
    run = admin_run(api, started["JobId"])
    assert run["task"] == "publish" and run["taskVersion"] == 1 and run["trigger"] == "api"
    assert run["params"] == {"file": "p1.txt", "label": "L1"}
    copy, log = run["steps"]
    assert (copy["status"], copy["bytes"], copy["files"][0]["path"]) == ("Finished", 14, "/out/p1.txt")
    assert log["status"] == "Finished" and log["output"].startswith("L1 /out/p1.txt 14 ")


def test_unknown_parameter_and_missing_input_are_refused(gw: Gateway, api: httpx.Client) -> None:
    r = api.post(f"{JOBS}/start-library", params={"id": "publish"}, json={"fiel": "x"})
    assert r.status_code == 400 and "fiel" in r.json()["Message"] and r.json()["StatusCode"] == "NotSet"
    r = api.post(f"{JOBS}/start-library", params={"id": "publish"}, json={"file": "absent.txt"})
    assert r.status_code == 404 and r.json()["StatusCode"] == "Missing"
    r = api.post(f"{JOBS}/start-library", params={"id": "publish"}, json={"label": "a\u0000b"})
    assert r.status_code == 400 and "NUL" in r.json()["Message"]
    r = api.post(f"{JOBS}/start-library", params={"path": "x" * 5000})
    assert r.status_code == 404 and len(r.json()["Message"]) < 100
    r = api.post(f"{JOBS}/start-library", params={"path": "no-such-task"})
    assert r.status_code == 404 and r.json()["StatusCode"] == "Missing"


def test_retry_then_continue_and_abort_policy(api: httpx.Client) -> None:
    job = api.post(f"{JOBS}/start-library", params={"path": "flaky"}).json()["JobId"]
    assert wait(api, job)["StatusCode"] == "Finished"
    fails, after = admin_run(api, job)["steps"]
    assert (fails["status"], fails["attempts"], after["status"]) == ("Failed", 2, "Finished")
    assert "exited with status 1" in fails["error"]
    job = api.post(f"{JOBS}/start-library", params={"path": "strict"}).json()["JobId"]
    ended = wait(api, job)
    assert ended["StatusCode"] == "Failed" and "step 'fails' failed" in ended["Message"]
    assert [s["status"] for s in admin_run(api, job)["steps"]] == ["Failed", "Skipped"]
    job = api.post(f"{JOBS}/start-library", params={"path": "late"}).json()["JobId"]
    assert wait(api, job)["StatusCode"] == "Failed"
    (nap,) = admin_run(api, job)["steps"]
    assert nap["error"] == "timed out after 0.5 s" and _sleepers("7.5") == []


def _sleepers(marker: str) -> list[str]:
    out = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True)
    return out.stdout.split()


def test_busy_then_abort_kills_the_command(api: httpx.Client) -> None:
    job = api.post(f"{JOBS}/start-library", params={"path": "slow"}, json={"seconds": "41.25"}).json()["JobId"]
    wait(api, job, ("InProgress",))
    busy = api.post(f"{JOBS}/start-library", params={"path": "slow"})
    assert busy.status_code == 200 and busy.json()["StatusCode"] == "Busy" and busy.json()["JobId"] == ""
    deadline = time.monotonic() + 10
    while not _sleepers("41.25") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _sleepers("41.25")
    r = api.post(f"{JOBS}/abort/{job}", params={"reason": "maintenance window"})
    assert r.status_code == 200 and r.json()["StatusCode"] in ("InProgress", "Canceled")
    ended = wait(api, job)
    assert ended["StatusCode"] == "Canceled" and "maintenance window" in ended["Message"]
    assert admin_run(api, job)["steps"][0]["status"] == "Canceled"
    assert _sleepers("41.25") == []
    again = api.post(f"{JOBS}/start-library", params={"path": "slow"}, json={"seconds": "0.1"}).json()
    assert again["StatusCode"] == "Queued"  # the slot is free again
    assert wait(api, again["JobId"])["StatusCode"] == "Finished"


def test_start_content_yaml_json_and_xml(gw: Gateway, api: httpx.Client) -> None:
    yaml_body = (
        "name: adhoc\nparams: {who: yaml}\nsteps:\n  - name: hi\n    command: {argv: [/bin/echo, '{param.who}']}\n"
    )
    r = api.post(f"{JOBS}/start-content", content=yaml_body, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 200, r.text
    first = r.json()["JobId"]
    assert wait(api, first)["StatusCode"] == "Finished"
    assert admin_run(api, first)["steps"][0]["output"] == "yaml\n"
    changed = {"name": "adhoc", "steps": [{"name": "hi", "command": {"argv": ["/bin/echo", "json"]}}]}
    second = api.post(f"{JOBS}/start-content", json=changed).json()
    assert "adhoc v2" in second["Message"]
    assert wait(api, second["JobId"])["StatusCode"] == "Finished"
    assert admin_run(api, first)["taskVersion"] == 1 and admin_run(api, second["JobId"])["taskVersion"] == 2
    xml = api.post(f"{JOBS}/start-content", content="<job/>", headers={"Content-Type": "application/xml"})
    assert xml.status_code == 415 and "XML" in xml.json()["Message"]
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    r = api.post(f"{JOBS}/start-content", content=laughs, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 400 and "aliases" in r.json()["Message"]
    r = api.post(f"{JOBS}/start-content", content="[" * 100_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "cannot be parsed" in r.json()["Message"]
    bad = {"steps": [{"name": "x", "command": {"argv": ["relative"]}}]}
    r = api.post(f"{JOBS}/start-content", json=bad)
    assert r.status_code == 400 and "steps[0].command.argv[0]" in r.json()["Message"]
    scheduled = {"steps": [{"name": "x", "command": {"argv": ["/bin/true"]}}], "schedules": [{"cron": "* * * * *"}]}
    r = api.post(f"{JOBS}/start-content", json=scheduled)
    assert r.status_code == 400 and "tasks.yaml" in r.json()["Message"]
    r = api.post(f"{JOBS}/start-content", json={"name": "publish", "steps": []})
    assert r.status_code == 400 and "configuration" in r.json()["Message"]


def test_status_abort_unknown_and_auth(gw: Gateway, api: httpx.Client) -> None:
    assert api.get(f"{JOBS}/status/999999").status_code == 404
    assert api.get(f"{JOBS}/status/999999").content == b""
    assert api.post(f"{JOBS}/abort/not-a-number").status_code == 404
    anonymous = httpx.get(f"{gw.url}{JOBS}/status/1")
    assert anonymous.status_code == 401 and anonymous.json()["StatusCode"] == "NotSet"
    files_only = token(gw, "files", "files-secret", "files:read")
    r = httpx.post(f"{gw.url}{JOBS}/start-library?path=publish", headers={"Authorization": f"Bearer {files_only}"})
    assert r.status_code == 403 and SCOPE in r.json()["Message"]


def test_a_file_event_starts_a_task_like_a_contract_action(gw: Gateway, api: httpx.Client) -> None:
    upload(gw, "x.trig", b"triggered")
    deadline = time.monotonic() + 30
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = [r for r in api.get("/admin/runs", params={"limit": 200}).json()["runs"] if r["action"] == "stamp"]
        if found and found[0]["status"] in ("Finished", "Failed"):
            break
        time.sleep(0.1)
    assert len(found) == 1, found
    run = admin_run(api, found[0]["id"])
    assert (run["status"], run["kind"], run["trigger"], run["taskVersion"]) == ("Finished", "task", "event", 1)
    assert run["steps"][1]["output"] == "event upload /out/x.trig\n"
