"""The admin API for contract-action runs (``/admin/...``), for admins and operators.

Same credentials as the partner API (session cookies, bearer token, X-API-Key) and the same
error envelope; success bodies are
``{"result":"ok","timestamp":...,...}`` with the run(s).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.catalog.records import RunRecord
from gateway.catalog.runs import ClaimedRun
from gateway.core import runs
from gateway.core.actions import event_payload
from gateway.core.metadata import parse_json_object
from gateway.core.runtime import Runtime
from gateway.core.timefmt import iso_ms, iso_now
from gateway.errors import InvalidParameterError, RequestSyntaxError
from gateway.http.auth import read_small_body
from gateway.http.credentials import require
from gateway.http.envelope import json_response

MAX_LIMIT = 1000


def run_json(run: RunRecord) -> dict[str, Any]:
    body = _run_fields(run)
    if run.kind == "task":  # a task run (docs/automation.md): its version, trigger and steps
        body.update(task=run.action, taskVersion=run.task_version, trigger=run.trigger, steps=run.steps)
    return body


def _run_fields(run: RunRecord) -> dict[str, Any]:
    return {
        "id": str(run.id),
        "eventId": str(run.event_id),
        "contract": run.contract,
        "action": run.action,
        "kind": run.kind,
        "status": run.status,
        "dead": run.dead,
        "attempts": run.attempts,
        "maxAttempts": run.max_attempts,
        "manual": run.manual,
        "params": run.params,
        "fileset": None if run.fileset is None else str(run.fileset),
        "createdAt": iso_ms(run.created_at),
        "startedAt": iso_ms(run.started_at),
        "finishedAt": iso_ms(run.finished_at),
        "nextAttemptAt": iso_ms(run.next_attempt_at) if run.status == "Queued" else "",
        "abortRequested": run.abort_requested,
        "lastError": run.last_error,
        "output": run.output,
        "history": run.history,
    }


def _ok(**body: Any) -> Response:
    return json_response({"result": "ok", "timestamp": iso_now(), **body})


async def _admin(request: Request) -> tuple[Runtime, Any]:
    """Watching runs needs ``runs:read``, changing them ``runs:write`` (admins and operators)."""
    return await require(request, "runs:read" if request.method == "GET" else "runs:write")


def _int(request: Request, name: str, default: int | None, maximum: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) > maximum:
        raise InvalidParameterError(name, f"expected an integer from 0 to {maximum}")
    return int(raw)


def _run_id(request: Request) -> int:
    raw = request.path_params["run_id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:  # "¹".isdigit() is True
        raise InvalidParameterError("id", "expected a run id")
    return int(raw)


async def list_runs(request: Request) -> Response:
    rt, _ = await _admin(request)
    q = request.query_params
    dead = {"true": True, "false": False, None: None}.get(q.get("dead"), "bad")
    if dead == "bad":
        raise InvalidParameterError("dead", "expected true or false")
    if "\x00" in q.get("contract", ""):
        raise InvalidParameterError("contract", "NUL is not allowed")  # PostgreSQL text cannot hold it
    total, found = await runs.search(
        rt,
        contract=q.get("contract") or None,
        status=q.get("status") or None,
        fileset=_int(request, "fileset", None, 2**62),
        dead=dead,  # type: ignore[arg-type]
        limit=_int(request, "limit", 100, MAX_LIMIT) or 0,
        offset=_int(request, "start", 0, 2**62) or 0,
    )
    return _ok(total=total, runs=[run_json(r) for r in found])


def _detail(found: ClaimedRun) -> dict[str, Any]:
    body = run_json(found.run)
    body["event"] = event_payload(found.event)
    return body


async def get_run(request: Request) -> Response:
    rt, _ = await _admin(request)
    return _ok(run=_detail(await runs.get(rt, _run_id(request))))


async def abort_run(request: Request) -> Response:
    rt, _ = await _admin(request)
    run_id = _run_id(request)
    status = await runs.abort(rt, run_id)
    message = "Run canceled" if status == "Canceled" else "Abort requested"
    return _ok(message=message, run=_detail(await runs.get(rt, run_id)))


async def retry_run(request: Request) -> Response:
    rt, _ = await _admin(request)
    run_id = _run_id(request)
    await runs.retry(rt, run_id)
    return _ok(message="Run queued again", run=_detail(await runs.get(rt, run_id)))


async def start_run(request: Request) -> Response:
    rt, principal = await _admin(request)
    body = await read_small_body(request, 65536)
    document = parse_json_object(body) if body.strip() else {}
    params = document.get("params", {})
    path = document.get("path")
    if not isinstance(params, dict) or not all(isinstance(v, str | int | float | bool) for v in params.values()):
        raise RequestSyntaxError("'params' must be an object of scalar values")
    if path is not None and not isinstance(path, str):
        raise RequestSyntaxError("'path' must be a string")
    values = {str(k): json.dumps(v) if isinstance(v, bool) else str(v) for k, v in params.items()}
    run_id = await runs.start(
        rt, principal, request.path_params["contract"], request.path_params["action"], values, path
    )
    return json_response(
        {"result": "ok", "timestamp": iso_now(), "message": "Run queued", "run": _detail(await runs.get(rt, run_id))},
        status=201,
    )


ROUTES: list[BaseRoute] = [
    Route("/admin/runs", list_runs, methods=["GET"], name="admin:runs"),
    Route("/admin/runs/{run_id}", get_run, methods=["GET"], name="admin:run"),
    Route("/admin/runs/{run_id}/abort", abort_run, methods=["POST"], name="admin:abort"),
    Route("/admin/runs/{run_id}/retry", retry_run, methods=["POST"], name="admin:retry"),
    Route("/admin/contracts/{contract}/actions/{action}/run", start_run, methods=["POST"], name="admin:run-now"),
]
