"""Seed 001's jobs under ``/api/jobs``: CRUD (admins; customers read their partner's), the run
history, and the claim an agent makes with ``POST /api/jobs/{id}/runs`` (201: a new run with
its lease; 200: the same unfinished run handed back; 409: none due or held by a live lease).
The agent reports progress and the end with ``PATCH /api/jobs/{id}/runs/{runId}``.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.catalog.jobs import JobRecord, JobRunRecord
from gateway.catalog.records import RunRecord
from gateway.core import jobs
from gateway.core.owners import ensure_admin
from gateway.core.runtime import Runtime
from gateway.core.timefmt import iso_ms, now_us
from gateway.http.mftplus.callers import Fields, caller, json_object, query_flag
from gateway.http.mftplus.envelope import api_errors, ok, ok_page, paging

PROTOCOLS = ("sftp", "ftp", "ftps", "http", "https", "s3", "gateway", "local")
DIRECTIONS = ("pull", "push")
_FIELDS = ("agentId", "name", "sourcePath", "destinationPath", "schedule", "timezone", "protocol", "direction",
           "enabled")  # fmt: skip
_COLUMNS = {"agentId": "agent_id", "name": "name", "sourcePath": "source_path", "destinationPath": "destination_path",
            "schedule": "schedule", "timezone": "timezone", "protocol": "protocol", "direction": "direction",
            "enabled": "enabled"}  # fmt: skip
# The core's run status -> seed 001's words (docs/mftplus-jobs-pipelines.md).
RUN_STATUS = {"Queued": "pending", "InProgress": "running", "Finished": "completed", "Failed": "failed",
              "Canceled": "canceled"}  # fmt: skip


def job_json(job: JobRecord, now: int) -> dict[str, Any]:
    return {
        "id": job.id, "agentId": job.agent_id, "name": job.name, "sourcePath": job.source_path,
        "destinationPath": job.destination_path, "schedule": job.schedule, "timezone": job.timezone,
        "protocol": job.protocol, "direction": job.direction, "enabled": job.enabled,
        "createdAt": iso_ms(job.created_at), "updatedAt": iso_ms(job.updated_at),
        "nextRunAt": iso_ms(jobs.next_run(job, now)) or None,
    }  # fmt: skip


def agent_run_json(run: JobRunRecord) -> dict[str, Any]:
    return {
        "id": run.id, "jobId": run.job_id, "agentId": run.agent_id, "status": run.status,
        "scheduledFor": iso_ms(run.tick), "attempts": run.attempts, "leaseExpiresAt": iso_ms(run.lease_until) or None,
        "startedAt": iso_ms(run.started_at), "updatedAt": iso_ms(run.updated_at),
        "finishedAt": iso_ms(run.finished_at) or None, "bytesTransferred": run.bytes,
        "filesTransferred": run.files, "error": run.error or None,
    }  # fmt: skip


def task_run_json(run: RunRecord) -> dict[str, Any]:
    """A task run on the gateway, in seed 001's words."""
    return {
        "id": str(run.id), "status": RUN_STATUS.get(run.status, run.status.lower()), "trigger": run.trigger,
        "taskVersion": run.task_version, "params": run.params, "steps": run.steps, "error": run.last_error or None,
        "createdAt": iso_ms(run.created_at), "startedAt": iso_ms(run.started_at) or None,
        "finishedAt": iso_ms(run.finished_at) or None,
    }  # fmt: skip


def _spec_values(f: Fields, partial: bool) -> dict[str, Any]:
    """The body's job fields as column values (every field for a create, the given ones for a PATCH)."""
    required = not partial
    values: dict[str, Any] = {}
    if "agentId" in f.body:
        agent = f.body["agentId"]
        if agent is not None and (not isinstance(agent, str) or not agent or len(agent) > 36):
            f.bad("agentId", "expected an agent id (a string) or null")
        else:
            values["agent_id"] = agent
    elif required:
        values["agent_id"] = None
    for key, most in (("name", 200), ("sourcePath", 1024), ("destinationPath", 1024)):
        text = f.text(key, required, most)
        if text is not None:
            values[_COLUMNS[key]] = text
    cron = f.text("schedule", required, 120)
    if cron is not None:
        if len(cron.split()) != 5 or not croniter.is_valid(cron):
            f.bad("schedule", 'expected a 5-field cron expression (minute hour day month weekday), e.g. "0 2 * * *"')
        else:
            values["schedule"] = cron
    zone = f.text("timezone", False, 64)
    if zone is not None:
        try:
            ZoneInfo(zone)
            values["timezone"] = zone
        except (ZoneInfoNotFoundError, ValueError):
            f.bad("timezone", "unknown IANA time zone, e.g. UTC or Europe/Paris")
    elif required:
        values["timezone"] = "UTC"
    for key, choices in (("protocol", PROTOCOLS), ("direction", DIRECTIONS)):
        text = f.text(key, required, 16)
        if text is not None and text not in choices:
            f.bad(key, f"expected one of {', '.join(choices)}")
        elif text is not None:
            values[key] = text
    enabled = f.flag("enabled")
    if enabled is not None or required:
        values["enabled"] = True if enabled is None else enabled
    return values


async def _owner(rt: Runtime, agent_id: str | None) -> str:
    """The partner of the job's agent: it decides which customer sees the job."""
    return await jobs.agent_partner(rt, agent_id)


async def create(request: Request) -> Response:
    rt, who = await caller(request)
    ensure_admin(who)
    f = Fields(await json_object(request), _FIELDS)
    values = _spec_values(f, partial=False)
    f.done("job")
    spec = jobs.JobSpec(**values)
    job = await jobs.create(rt, who, spec, await _owner(rt, spec.agent_id))
    return ok(job_json(job, now_us()), 201)


async def list_jobs(request: Request) -> Response:
    rt, who = await caller(request)
    page, limit = paging(request)
    agent = request.query_params.get("agentId") or None
    if agent == "me" and who.agent_id is not None:
        agent = who.agent_id
    total, found = await jobs.search(rt, who, agent, query_flag(request, "enabled"), page, limit)
    now = await jobs.clock(rt)
    return ok_page([job_json(j, now) for j in found], total, page, limit)


async def get_job(request: Request) -> Response:
    rt, who = await caller(request)
    job = await jobs.get(rt, who, request.path_params["id"])
    return ok(job_json(job, await jobs.clock(rt)))


async def patch_job(request: Request) -> Response:
    rt, who = await caller(request)
    ensure_admin(who)
    f = Fields(await json_object(request), _FIELDS)
    values = _spec_values(f, partial=True)
    f.done("job")
    owner = await _owner(rt, values["agent_id"]) if "agent_id" in values else None
    job = await jobs.update(rt, who, request.path_params["id"], values, owner)
    return ok(job_json(job, now_us()))


async def delete_job(request: Request) -> Response:
    rt, who = await caller(request)
    await jobs.delete(rt, who, request.path_params["id"])
    return ok({"id": request.path_params["id"], "deleted": True})


async def list_runs(request: Request) -> Response:
    rt, who = await caller(request)
    page, limit = paging(request)
    total, found = await jobs.runs(rt, who, request.path_params["id"], page, limit)
    items = [agent_run_json(r) if isinstance(r, JobRunRecord) else task_run_json(r) for r in found]
    return ok_page(items, total, page, limit)


async def claim(request: Request) -> Response:
    rt, who = await caller(request)
    body = await json_object(request, optional=True)
    f = Fields(body, ("runId",))
    resume = f.text("runId", False, 36)
    f.done("run request")
    claimed = await jobs.claim(rt, who, request.path_params["id"], resume)
    return ok(agent_run_json(claimed.run), 201 if claimed.created else 200)


async def update_run(request: Request) -> Response:
    rt, who = await caller(request)
    f = Fields(await json_object(request), ("status", "error", "bytesTransferred", "filesTransferred"))
    changes: dict[str, Any] = {}
    status = f.text("status", False, 16)
    if status is not None and status not in ("running", "completed", "failed"):
        f.bad("status", "expected running, completed or failed")
    elif status is not None:
        changes["status"] = status
    error = f.text("error", False, 4000, empty=True)
    if error is not None:
        changes["error"] = error
    for key, column in (("bytesTransferred", "bytes"), ("filesTransferred", "files")):
        value = f.body.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**62):
            f.bad(key, "expected a whole number from 0")
        elif value is not None:
            changes[column] = value
    f.done("run update")
    run = await jobs.update_run(rt, who, request.path_params["id"], request.path_params["run"], changes)
    return ok(agent_run_json(run))


ROUTES: list[BaseRoute] = [
    Route("/api/jobs", api_errors(create), methods=["POST"], name="api:jobs:create"),
    Route("/api/jobs", api_errors(list_jobs), methods=["GET"], name="api:jobs:list"),
    Route("/api/jobs/{id}", api_errors(get_job), methods=["GET"], name="api:jobs:get"),
    Route("/api/jobs/{id}", api_errors(patch_job), methods=["PATCH"], name="api:jobs:update"),
    Route("/api/jobs/{id}", api_errors(delete_job), methods=["DELETE"], name="api:jobs:delete"),
    Route("/api/jobs/{id}/runs", api_errors(list_runs), methods=["GET"], name="api:jobs:runs"),
    Route("/api/jobs/{id}/runs", api_errors(claim), methods=["POST"], name="api:jobs:claim"),
    Route("/api/jobs/{id}/runs/{run}", api_errors(update_run), methods=["PATCH"], name="api:jobs:run-update"),
]
