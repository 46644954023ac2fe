"""No API answer and no log line shows a task's secrets.

A configured task signs its webhook (secret from ``${ENV}``), sends ``Authorization`` (from
``${ENV}``) to a receiver that echoes every request header back in its answer (so the run's
output would carry them), and runs ``/usr/bin/env`` with a secret environment value (so the
command's output would print it). A task created through ``/rest/as/job/start-content`` carries
its own webhook secret and header. Every view — ``/admin/tasks``, ``/admin/runs`` (list and
detail), ``/v1/task-runs``, ``/rest/as/job/status`` — and the server log must show none of them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from gateway.catalog.passwords import hash_password
from tests.e2e.harness import Gateway, default_config, password_hash

pytestmark = pytest.mark.e2e

SCOPE = "api.rest.automation-services-job.execute"
HOOK_SECRET = "hmac-key-7f3e9a1c55d0"
BEARER = "bearer-token-c0ffee42b7"
CMD_SECRET = "cmd-password-91ab77e0"
INLINE_SECRET = "inline-hmac-0d4c2b18aa"
INLINE_TOKEN = "inline-token-e61f09d3c4"
PARAM_SECRET = "param-value-5b8e2f7a10"
SECRETS = (HOOK_SECRET, BEARER, CMD_SECRET, INLINE_SECRET, INLINE_TOKEN, PARAM_SECRET)


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    """A receiver answering 200 with the request's headers (as a careless partner might)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = json.dumps(dict(self.headers.items())).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def gw(echo: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    config = default_config()
    config["actors.yaml"]["actors"]["Ops"] = {
        "kind": "application",
        "users": {"root": {"password_hash": password_hash("root"), "admin": True}},
        "service_accounts": {"opbot": {"roles": ["operator"]}},
    }
    config["oauth-clients.yaml"] = {
        "clients": {"jobs": {"principal": "opbot", "scopes": [SCOPE, "runs:read", "runs:write"],
                             "secret_hash": hash_password("jobs-secret")}}
    }  # fmt: skip
    config["tasks.yaml"] = {
        "tasks": {
            "notify": {
                "params": {"api_token": "default-token-x", "label": "L"},
                "steps": [
                    {
                        "name": "hook",
                        "webhook": {
                            "url": echo,
                            "secret": "${HOOK_SECRET}",
                            "headers": {"Authorization": "Bearer ${HOOK_BEARER}"},
                        },
                    },
                    {"name": "env", "command": {"argv": ["/usr/bin/env"], "env": {"DEPLOY_PASSWORD": "${CMD_SECRET}"}}},
                ],
            }  # fmt: skip
        }
    }
    env = {"HOOK_SECRET": HOOK_SECRET, "HOOK_BEARER": BEARER, "CMD_SECRET": CMD_SECRET}
    gateway = Gateway(root=tmp_path_factory.mktemp("secrets"), config=config, env=env).start()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def api(gw: Gateway) -> Iterator[httpx.Client]:
    r = httpx.post(f"{gw.url}/oauth2/token", auth=("jobs", "jobs-secret"),
                   data={"grant_type": "client_credentials", "scope": f"{SCOPE} runs:read runs:write"})  # fmt: skip
    assert r.status_code == 200, r.text
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {r.json()['access_token']}"}) as client:
        yield client


def _ended(api: httpx.Client, job: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = api.get(f"/rest/as/job/status/{job}").json()
        if body["StatusCode"] in ("Finished", "Failed", "Canceled"):
            return dict(body)
        time.sleep(0.1)
    raise AssertionError(f"job {job} did not end")


def _clean(where: str, text: str) -> None:
    shown = [s for s in SECRETS if s in text]
    assert not shown, f"{where} shows {shown}: {text[:3000]}"


def test_no_answer_and_no_log_line_shows_a_secret(gw: Gateway, api: httpx.Client) -> None:
    started = api.post("/v1/tasks/notify/start", json={"api_token": PARAM_SECRET, "label": "visible-label"})
    assert started.status_code == 200, started.text
    _clean("/v1 start", started.text)
    job = started.json()["id"]
    assert _ended(api, job)["StatusCode"] == "Finished"
    inline = {
        "name": "inline-notify",
        "steps": [{"name": "hook", "webhook": {"url": gw.url + "/no-such-hook", "secret": INLINE_SECRET,
                                                "headers": {"X-Api-Key": INLINE_TOKEN}}}],
    }  # fmt: skip
    r = api.post("/rest/as/job/start-content", json=inline)
    assert r.status_code == 200 and r.json()["StatusCode"] == "Queued", r.text
    inline_job = r.json()["JobId"]
    _ended(api, inline_job)

    answers = {
        "/admin/tasks": api.get("/admin/tasks"),
        "/admin/runs": api.get("/admin/runs"),
        f"/admin/runs/{job}": api.get(f"/admin/runs/{job}"),
        f"/admin/runs/{inline_job}": api.get(f"/admin/runs/{inline_job}"),
        f"/v1/task-runs/{job}": api.get(f"/v1/task-runs/{job}"),
        f"/v1/task-runs/{inline_job}": api.get(f"/v1/task-runs/{inline_job}"),
        f"status/{job}": api.get(f"/rest/as/job/status/{job}"),
        f"status/{inline_job}": api.get(f"/rest/as/job/status/{inline_job}"),
    }
    for where, answer in answers.items():
        assert answer.status_code == 200, (where, answer.text)
        _clean(where, answer.text)

    # The run did what it should, with the secrets (the receiver saw them; the answers mask them).
    run = api.get(f"/admin/runs/{job}").json()["run"]
    hook, env = run["steps"]
    assert '"Authorization": "***"' in hook["output"] and "X-MFT-Signature-256" in hook["output"]
    assert "DEPLOY_PASSWORD=***" in env["output"] and "GATEWAY_PARAM_LABEL=visible-label" in env["output"]
    assert run["params"] == {"api_token": "***", "label": "visible-label"}
    tasks = {t["name"]: t["definition"] for t in api.get("/admin/tasks").json()["tasks"]}
    shown_hook = tasks["notify"]["steps"][0]["webhook"]
    assert shown_hook["secret"] == "***" and shown_hook["headers"] == {"Authorization": "***"}
    assert shown_hook["url"].startswith("http://127.0.0.1:")
    assert tasks["notify"]["steps"][1]["command"]["env"] == {"DEPLOY_PASSWORD": "***"}
    assert tasks["inline-notify"]["steps"][0]["webhook"]["headers"] == {"X-Api-Key": "***"}
    _clean("the server log", gw.log())
