"""Contract actions end to end: real gateway subprocesses, a real webhook receiver on loopback,
real commands, and the admin API to watch and steer runs."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import pg
from tests.e2e.harness import Gateway, default_config, password_hash
from tests.e2e.receiver import Receiver, running

SECRET = "s3cret-for-hmac"
Config = dict[str, dict[str, Any]]


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_gateway(catalog_kind: str, tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    """Start gateways on a fresh catalog (one per test); all are stopped at the end."""
    started: list[Gateway] = []
    databases: list[Any] = []
    url: str | None = None
    if catalog_kind == "postgresql":
        ctx = pg.fresh_database()
        url = ctx.__enter__()
        databases.append(ctx)

    def make(config: Config, name: str = "gw", **kwargs: Any) -> Gateway:
        gw = Gateway(root=tmp_path / name, database_url=url, config=config, **kwargs).start()
        started.append(gw)
        return gw

    try:
        yield make
    finally:
        for gw in started:
            gw.kill()
        for ctx in databases:
            ctx.__exit__(None, None, None)


def hooks_config(*actions: dict[str, Any], app_actions: tuple[dict[str, Any], ...] = (), **server: Any) -> Config:
    """The default test world plus an admin user, actions on PartnerA's contract (and AppB's)."""
    config = default_config()
    config["actors.yaml"]["actors"]["Ops"] = {
        "kind": "application",
        "users": {"ops": {"password_hash": password_hash("ops"), "admin": True}},
    }
    contracts = config["contracts.yaml"]["contracts"]
    contracts[0]["actions"] = list(actions)
    if app_actions:
        contracts[2]["actions"] = list(app_actions)
    config["gateway.yaml"]["server"].update({"dispatch_poll_seconds": 0.2, **server})
    return config


def webhook(receiver: Receiver, name: str = "notify", **extra: Any) -> dict[str, Any]:
    retry = extra.pop("retry", {"max_attempts": 3, "backoff_seconds": 0.2, "max_backoff_seconds": 0.5})
    hook = {"url": receiver.url, "secret": SECRET, "timeout_seconds": extra.pop("timeout_seconds", 5)}
    return {"name": name, "on": extra.pop("on", ["upload"]), "webhook": hook, "retry": retry, **extra}


def upload(client: httpx.Client, path: str, content: bytes, metadata: dict[str, str] | None = None) -> str:
    files: dict[str, Any] = {"file": (path.rsplit("/", 1)[-1], content)}
    if metadata is not None:
        files["metadata"] = (None, json.dumps(metadata))
    r = client.put(f"/2.0/files/{path}", files=files)
    assert r.status_code == 201, r.text
    return str(r.json()["fileset"])


def runs(admin: httpx.Client, **query: str) -> list[dict[str, Any]]:
    r = admin.get("/admin/runs", params=query)
    assert r.status_code == 200, r.text
    return list(r.json()["runs"])


def wait_run(admin: httpx.Client, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = runs(admin)
        for run in found:
            if predicate(run):
                return run
        time.sleep(0.1)
    raise AssertionError(f"no run matched; runs: {json.dumps(found, indent=1)[:3000]}")


def test_webhook_signed_event_body_verifies_with_the_secret(make_gateway: Callable[..., Gateway]) -> None:
    with running(Receiver()) as receiver:
        gw = make_gateway(hooks_config(webhook(receiver)))
        with closing(gw.client("alice")) as alice:
            fileset = upload(alice, "inbox/signed.txt", b"payload", {"QUEUE_NAME": "Q1"})
        [delivery] = receiver.wait_for(1)
    expected = "sha256=" + hmac.new(SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(delivery.headers["x-mft-signature-256"], expected)
    event = delivery.json()
    assert delivery.headers["idempotency-key"] == event["id"]
    assert event["type"] == "upload" and event["path"] == "/inbox/signed.txt" and event["fileset"] == fileset
    assert event["sha256"] == hashlib.sha256(b"payload").hexdigest() and event["size"] == 7
    assert event["metadata"] == {"QUEUE_NAME": "Q1"} and event["user"] == "alice"
    assert event["run"]["action"] == "notify" and event["run"]["attempt"] == 1


def test_webhook_trigger_filters_by_type_path_and_metadata(make_gateway: Callable[..., Gateway]) -> None:
    with running(Receiver()) as receiver:
        action = webhook(receiver, on=["upload", "delete"], path="/inbox/*.xml", metadata={"QUEUE_NAME": "Q1"})
        gw = make_gateway(hooks_config(action))
        with closing(gw.client("alice")) as alice:
            upload(alice, "inbox/a.txt", b"wrong name", {"QUEUE_NAME": "Q1"})
            upload(alice, "inbox/b.xml", b"wrong metadata", {"QUEUE_NAME": "Q2"})
            upload(alice, "outbox/c.xml", b"wrong folder", {"QUEUE_NAME": "Q1"})
            upload(alice, "inbox/d.xml", b"match", {"QUEUE_NAME": "Q1"})
            assert alice.get("/2.0/files/inbox/d.xml").status_code == 200  # download: not a trigger
            assert alice.delete("/2.0/files/inbox/d.xml").status_code == 200
        got = receiver.wait_for(2)
        time.sleep(0.5)
        assert [(d.json()["type"], d.json()["name"]) for d in receiver.deliveries] == [
            ("upload", "d.xml"),
            ("delete", "d.xml"),
        ]
        assert got[1].json()["metadata"] == {"QUEUE_NAME": "Q1"}  # a delete event keeps the metadata


def test_webhook_500_then_200_delivers_twice_and_finishes_after_two_attempts(
    make_gateway: Callable[..., Gateway],
) -> None:
    with running(Receiver(script=lambda d, n: 500 if n == 0 else 200)) as receiver:
        gw = make_gateway(hooks_config(webhook(receiver)))
        with closing(gw.client("alice")) as alice, closing(gw.client("ops")) as ops:
            upload(alice, "inbox/retry.txt", b"x")
            first, second = receiver.wait_for(2)
            assert first.json()["id"] == second.json()["id"]
            assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
            assert [first.headers["x-mft-attempt"], second.headers["x-mft-attempt"]] == ["1", "2"]
            run = wait_run(ops, lambda r: r["status"] == "Finished")
            assert run["attempts"] == 2 and not run["dead"]
            detail = ops.get(f"/admin/runs/{run['id']}").json()["run"]
            assert [h["outcome"] for h in detail["history"]] == ["Retry", "Finished"]
            assert "HTTP 500" in detail["history"][0]["error"]


def test_webhook_receiver_never_answering_ends_dead_after_its_attempts(make_gateway: Callable[..., Gateway]) -> None:
    with running(Receiver(script=lambda d, n: None)) as receiver:
        action = webhook(receiver, timeout_seconds=0.5,
                         retry={"max_attempts": 2, "backoff_seconds": 0.1, "max_backoff_seconds": 0.2})  # fmt: skip
        gw = make_gateway(hooks_config(action))
        with closing(gw.client("alice")) as alice, closing(gw.client("ops")) as ops:
            upload(alice, "inbox/silent.txt", b"x")
            run = wait_run(ops, lambda r: r["status"] == "Failed")
            assert run["dead"] and run["attempts"] == 2 and "no answer" in run["lastError"]
            assert len(receiver.deliveries) == 2
            dead = ops.get("/admin/runs", params={"dead": "true"}).json()
            assert dead["total"] == 1


def test_webhook_gateway_killed_before_delivery_completes_delivers_after_restart(
    make_gateway: Callable[..., Gateway],
) -> None:
    # The receiver holds the first delivery open: the run is in progress when the gateway dies.
    with running(Receiver(script=lambda d, n: None if n == 0 else 200)) as receiver:
        gw = make_gateway(hooks_config(webhook(receiver, timeout_seconds=60)))
        with closing(gw.client("alice")) as alice:
            upload(alice, "inbox/crash.txt", b"must not be lost")
        receiver.wait_for(1)
        assert gw.process is not None
        gw.process.send_signal(signal.SIGKILL)
        gw.process.wait(10)
        gw.start()
        deliveries = receiver.wait_for(2)
        with closing(gw.client("ops")) as ops:
            run = wait_run(ops, lambda r: r["status"] == "Finished")
        time.sleep(0.5)
        assert len(receiver.deliveries) == 2  # at least once, and no more than the one retry
        assert deliveries[0].json()["id"] == deliveries[1].json()["id"]
        assert run["attempts"] == 2


def _argv_script(tmp_path: Path) -> Path:
    script = tmp_path / "record_argv.py"
    script.write_text(
        "import json, os, sys\n"
        "out = os.path.join(os.environ['OUT_DIR'], os.environ['GATEWAY_EVENT_RUN_ID'] + '.json')\n"
        "env = {k: v for k, v in os.environ.items() if k.startswith(('GATEWAY_', 'MODE'))}\n"
        "json.dump({'argv': sys.argv[1:], 'env': env, 'cwd': os.getcwd()}, open(out, 'w'))\n"
    )
    return script


HOSTILE = ["$(touch pwned)", ";id", "a'b\"c", "-rf", "--help", "`touch pwned2`", "x && touch pwned3", "{path}"]


def test_command_hostile_file_names_arrive_as_single_arguments(
    make_gateway: Callable[..., Gateway], tmp_path: Path
) -> None:
    out, work = tmp_path / "out", tmp_path / "work"
    out.mkdir()
    work.mkdir()
    command = {
        "argv": [sys.executable, str(_argv_script(tmp_path)), "{name}", "--", "{path}", "pre-{name}-post"],
        "env": {"OUT_DIR": str(out), "MODE": "batch"},
        "cwd": str(work),
        "timeout_seconds": 20,
    }
    gw = make_gateway(hooks_config({"name": "ingest", "on": ["upload"], "command": command}))
    with closing(gw.client("alice")) as alice, closing(gw.client("ops")) as ops:
        for name in HOSTILE:
            quoted = "".join(c if c.isalnum() else f"%{ord(c):02X}" for c in name)
            upload(alice, f"inbox/{quoted}", b"hostile")
        deadline = time.monotonic() + 30
        # A run is Finished only after its command has exited and the outcome is committed, a
        # moment after the command wrote its file: wait for both.
        finished: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            finished = [r for r in runs(ops) if r["status"] == "Finished"]
            if len(finished) == len(HOSTILE) and len(list(out.iterdir())) == len(HOSTILE):
                break
            time.sleep(0.1)
    records = [json.loads(p.read_text()) for p in out.iterdir()]
    assert len(records) == len(HOSTILE) and len(finished) == len(HOSTILE)
    assert sorted(r["argv"][0] for r in records) == sorted(HOSTILE)
    for r in records:
        name = r["argv"][0]
        assert r["argv"] == [name, "--", f"/inbox/{name}", f"pre-{name}-post"]  # never expanded again
        assert r["env"]["GATEWAY_EVENT_NAME"] == name and r["env"]["MODE"] == "batch"
        assert "GATEWAY_DATABASE_URL" not in r["env"]
        assert r["cwd"] == str(work)
    for pwned in ("pwned", "pwned2", "pwned3"):
        assert not (work / pwned).exists() and not (tmp_path / pwned).exists() and not Path(pwned).exists()


def test_admin_abort_kills_a_long_running_command(make_gateway: Callable[..., Gateway], tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = tmp_path / "sleeper.py"
    script.write_text(f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)\n")
    command = {"argv": [sys.executable, str(script)], "timeout_seconds": 300}
    gw = make_gateway(hooks_config({"name": "slow", "on": ["upload"], "command": command}))
    with closing(gw.client("alice")) as alice, closing(gw.client("ops")) as ops:
        upload(alice, "inbox/slow.txt", b"x")
        run = wait_run(ops, lambda r: r["status"] == "InProgress")
        deadline = time.monotonic() + 20
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = int(pid_file.read_text())
        r = ops.post(f"/admin/runs/{run['id']}/abort")
        assert r.status_code == 200 and r.json()["message"] == "Abort requested", r.text
        ended = wait_run(ops, lambda x: x["id"] == run["id"] and x["status"] == "Canceled")
        assert ended["lastError"] == "Aborted by an operator"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"the command (pid {pid}) survived the abort")
        # a finished run cannot be aborted again; it can be retried
        again = ops.post(f"/admin/runs/{run['id']}/abort")
        assert again.status_code == 400 and again.json()["errorType"] == "request_syntax"


def test_route_move_to_another_actor_fires_that_contract(make_gateway: Callable[..., Gateway]) -> None:
    with running(Receiver()) as receiver:
        route = {"name": "hand-off", "on": ["upload"], "path": "/outbox/*",
                 "route": {"vfs": "app", "path": "/in", "mode": "move"}}  # fmt: skip
        gw = make_gateway(hooks_config(route, app_actions=(webhook(receiver, name="app-arrival"),)))
        with (
            closing(gw.client("alice")) as alice,
            closing(gw.client("appuser")) as app,
            closing(gw.client("ops")) as ops,
        ):
            upload(alice, "outbox/order.xml", b"<order/>", {"CORRELATION_ID": "c-1"})
            [arrival] = receiver.wait_for(1)
            event = arrival.json()
            assert event["vfs"] == "app" and event["path"] == "/in/order.xml" and event["type"] == "upload"
            assert event["contract"] == "pa" and event["user"] == "route:pa/hand-off"
            assert event["routeChain"] == ["pa:/outbox/order.xml"]
            assert event["metadata"]["CORRELATION_ID"] == "c-1"
            assert app.get("/2.0/files/in/order.xml").content == b"<order/>"
            assert alice.get("/2.0/files/outbox/order.xml").status_code == 404  # moved, not copied
            run = wait_run(ops, lambda r: r["action"] == "hand-off" and r["status"] == "Finished")
            assert "move to app:/in/order.xml" in run["output"]


def test_route_loop_is_refused_without_retries(make_gateway: Callable[..., Gateway]) -> None:
    there = {"name": "to-app", "on": ["upload"], "path": "/outbox/*", "route": {"vfs": "app", "path": "/in"}}
    back = {"name": "back", "on": ["upload"], "path": "/in/*", "route": {"vfs": "pa", "path": "/outbox"}}
    gw = make_gateway(hooks_config(there, app_actions=(back,)))
    with closing(gw.client("alice")) as alice, closing(gw.client("ops")) as ops:
        upload(alice, "outbox/ping.txt", b"ping")
        refused = wait_run(ops, lambda r: r["status"] == "Failed")
        assert "refused" in refused["lastError"] and not refused["dead"] and refused["attempts"] == 1
        assert refused["action"] == "back"  # app -> pa would revisit where the file came from
        time.sleep(0.5)
        assert [r["action"] for r in runs(ops)] == ["back", "to-app"]
        assert alice.get("/2.0/files/outbox/ping.txt").content == b"ping"  # the original is untouched


def test_admin_run_now_overrides_params_and_retry_requeues_a_dead_run(
    make_gateway: Callable[..., Gateway], tmp_path: Path
) -> None:
    statuses = iter([500, 500, 200, 200])
    with running(Receiver(script=lambda d, n: next(statuses))) as receiver:
        action = webhook(receiver, params={"priority": "normal", "queue": "Q"},
                         retry={"max_attempts": 2, "backoff_seconds": 0.1, "max_backoff_seconds": 0.1})  # fmt: skip
        gw = make_gateway(hooks_config(action))
        with closing(gw.client("alice")) as alice, closing(gw.client("ops")) as ops:
            upload(alice, "inbox/manual.txt", b"m")
            dead = wait_run(ops, lambda r: r["dead"])
            assert ops.post(f"/admin/runs/{dead['id']}/retry").status_code == 200
            wait_run(ops, lambda r: r["id"] == dead["id"] and r["status"] == "Finished")
            r = ops.post("/admin/contracts/pa/actions/notify/run",
                         json={"params": {"priority": "urgent"}, "path": "/inbox/manual.txt"})  # fmt: skip
            assert r.status_code == 201, r.text
            manual = r.json()["run"]
            assert manual["manual"] and manual["params"] == {"priority": "urgent", "queue": "Q"}
            deliveries = receiver.wait_for(4)
            event = deliveries[3].json()
            assert event["type"] == "manual" and event["run"]["params"]["priority"] == "urgent"
            assert event["path"] == "/inbox/manual.txt" and event["fileset"] is not None
            missing = ops.post("/admin/contracts/pa/actions/nope/run", json={})
            assert missing.status_code == 404 and missing.json()["errorType"] == "io"
        with closing(gw.client("alice")) as alice:
            denied = alice.get("/admin/runs")
            assert denied.status_code == 403 and denied.json()["errorType"] == "authorization"


def test_expiry_sweep_removes_expired_files_with_an_expire_event(make_gateway: Callable[..., Gateway]) -> None:
    with running(Receiver()) as receiver:
        config = hooks_config(webhook(receiver, on=["expire"]), expiry_sweep_seconds=0.3)
        config["vfs.yaml"]["vfs"]["pa"]["retention"] = {"after_put_hours": 0.0003}  # about a second
        gw = make_gateway(config)
        with closing(gw.client("alice")) as alice:
            fileset = upload(alice, "inbox/ephemeral.txt", b"short-lived")
            [expired] = receiver.wait_for(1, timeout=20)
            event = expired.json()
            assert event["type"] == "expire" and event["fileset"] == fileset and event["user"] == "system:retention"
            assert alice.get("/2.0/files/inbox/ephemeral.txt").status_code == 404
            assert not [p for p in gw.storage_files() if "objects" in p.parts]


def test_two_gateways_on_one_postgres_deliver_each_event_exactly_once(
    make_gateway: Callable[..., Gateway], catalog_kind: str, tmp_path: Path
) -> None:
    if catalog_kind != "postgresql":
        pytest.skip("several peers share one catalog only on PostgreSQL")
    with running(Receiver()) as receiver:
        config = hooks_config(webhook(receiver), dispatch_concurrency=16)
        config["gateway.yaml"]["storages"] = {"default": {"type": "local", "root": str(tmp_path / "shared")}}
        (tmp_path / "shared").mkdir()
        peers = [make_gateway(config, name="peer-a"), make_gateway(config, name="peer-b")]
        clients = [peer.client("alice") for peer in peers]
        try:
            for i in range(500):
                upload(clients[i % 2], f"inbox/e{i:03d}.txt", b"%d" % i)
            deliveries = receiver.wait_for(500, timeout=120)
            time.sleep(1.0)
        finally:
            for c in clients:
                c.close()
        ids = [d.json()["id"] for d in receiver.deliveries]
        assert len(ids) == 500 and len(set(ids)) == 500
        names = sorted(d.json()["name"] for d in deliveries)
        assert names == [f"e{i:03d}.txt" for i in range(500)]
        with closing(peers[0].client("ops")) as ops:
            claimed_by = {r["attempts"] for r in runs(ops, limit="1000")}
        assert claimed_by == {1}
