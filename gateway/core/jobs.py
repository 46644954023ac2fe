"""Seed 001's jobs: a cron-scheduled transfer between a source and a destination.

A job with an agent is *claimed by that agent* (pull-based, so it works through NAT): the agent
reads ``nextRunAt`` from the job and, when it is due, calls :func:`claim`. The claim answers the
run of the latest tick (one run per ``(job, tick)``: the catalog's unique key), or hands back
the job's unfinished run when its lease expired or the agent names it (a restarted agent
resumes the same run, it never starts a duplicate); a run held under a live lease by someone
else refuses the claim. The lease lasts :func:`lease_us` and is renewed by the run's updates
and the agent's heartbeat.

A job without an agent runs on the gateway: it is the implicit task ``job-<id>`` (one ``pull``
step, or an ``input`` file and a ``push`` step) whose ticks the scheduler fires like a
``tasks.yaml`` schedule's (exactly once across peers). Paths name a place on each side:
``<connection>:<folder>`` remotely and ``<vfs>:<path>`` on the gateway (docs/mftplus-jobs-pipelines.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.catalog import agents as agent_catalog, jobs as catalog, pipelines as run_history, tasks as task_catalog
from gateway.catalog.jobs import JobRecord, JobRunRecord
from gateway.catalog.records import RunRecord
from gateway.config._tasks import canonical, parse_definition
from gateway.core import scheduler
from gateway.core.job_schedules import TASK_PREFIX, schedule_of
from gateway.core.owners import Caller, InvalidInputError, StateConflictError, ensure_admin, plausible_id

__all__ = ["ensure_admin"]
from gateway.core.runtime import Runtime
from gateway.core.timefmt import iso_ms, now_us
from gateway.errors import AuthorizationError, NotFoundError

_US = 1_000_000


def lease_us() -> int:
    """Two (cron) minutes: 120 s, shorter with the test clock of the scheduler."""
    return int(2 * scheduler.minute_seconds() * _US)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job's fields as checked from a request (``owner`` comes from the agent)."""

    agent_id: str | None
    name: str
    source_path: str
    destination_path: str
    schedule: str
    timezone: str
    protocol: str
    direction: str
    enabled: bool

    def values(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in JobSpec.__slots__}


async def clock(rt: Runtime) -> int:
    """The time ticks are computed against: the catalog's clock (one for every peer)."""
    return await task_catalog.db_now_us(rt.db, now_us())


def next_run(job: JobRecord, now: int) -> int | None:
    return scheduler.next_tick(schedule_of(job), now) if job.enabled else None


def _split(text: str) -> tuple[str, str]:
    name, sep, path = text.partition(":")
    return (name, path) if sep else ("", text)


def task_definition(spec: JobSpec) -> dict[str, Any]:
    """The implicit task of a job run on the gateway."""
    if spec.direction == "pull":
        connection, folder = _split(spec.source_path)
        vfs, path = _split(spec.destination_path)
        glob = "*"
        head, _, last = folder.rpartition("/")
        if any(c in last for c in "*?["):
            folder, glob = head or "/", last
        step = {"connection": connection, "folder": folder, "glob": glob, "vfs": vfs, "path": path}
        return {"description": f"job {spec.name}", "steps": [{"name": "pull", "pull": step}]}
    vfs, path = _split(spec.source_path)
    connection, folder = _split(spec.destination_path)
    return {
        "description": f"job {spec.name}",
        "input": {"vfs": vfs, "path": path},
        "steps": [{"name": "push", "push": {"connection": connection, "folder": folder}}],
    }


def _check_gateway_job(rt: Runtime, job_id: str, spec: JobSpec) -> str:
    """The implicit task's canonical definition, or InvalidInputError naming the fields."""
    body = task_definition(spec)
    _, problems = parse_definition("job", TASK_PREFIX + job_id, body, rt.config.vfs, rt.config.connections)
    remote = spec.source_path if spec.direction == "pull" else spec.destination_path
    connection = rt.config.connections.get(_split(remote)[0])
    if connection is not None and connection.type != spec.protocol:
        problems.append(f"protocol: connection '{connection.name}' is {connection.type}, not {spec.protocol}")
    if problems:
        hint = ("a job without an agent runs on the gateway: give sourcePath/destinationPath as "
                "'<connection>:<folder>' (remote) and '<vfs>:<path>' (gateway)")  # fmt: skip
        raise InvalidInputError(
            "Invalid job: " + hint, [{"field": "sourcePath/destinationPath", "message": p} for p in problems]
        )
    return canonical(body)


async def _save_task(rt: Runtime, job: JobRecord) -> None:
    if job.agent_id is None:
        spec = JobSpec(**{k: getattr(job, k) for k in JobSpec.__slots__})
        text = _check_gateway_job(rt, job.id, spec)
        await task_catalog.save(rt.db, TASK_PREFIX + job.id, text, text, "api", now_us())


async def create(rt: Runtime, caller: Caller, spec: JobSpec, owner: str) -> JobRecord:
    """A new job (admins only); ``owner`` is the partner of the job's agent ("" without one)."""
    ensure_admin(caller)
    job_id, now = str(uuid.uuid4()), now_us()
    if spec.agent_id is None:
        _check_gateway_job(rt, job_id, spec)
    values = {**spec.values(), "id": job_id, "owner": owner, "created_at": now, "updated_at": now}
    job = await catalog.insert_job(rt.db, values)
    await _save_task(rt, job)
    return job


async def get(rt: Runtime, caller: Caller, job_id: str) -> JobRecord:
    """The job if the caller may see it: admins all, a customer its partner's, an agent its own."""
    found = await catalog.get_job(rt.db, job_id) if plausible_id(job_id) else None
    visible = found is not None and (
        found.agent_id == caller.agent_id if caller.agent_id is not None else caller.sees(found.owner)
    )
    if found is None or not visible:
        raise NotFoundError(f"Job '{job_id[:40]}' doesn't exist")
    return found


async def search(
    rt: Runtime, caller: Caller, agent_id: str | None, enabled: bool | None, page: int, limit: int
) -> tuple[int, list[JobRecord]]:
    if agent_id is not None and not plausible_id(agent_id):
        return 0, []  # no agent has such an id
    if caller.agent_id is not None:
        if agent_id not in (None, caller.agent_id):
            return 0, []
        agent_id = caller.agent_id
    return await catalog.list_jobs(rt.db, caller.scope if caller.agent_id is None else None, agent_id, enabled,
                                   limit, (page - 1) * limit)  # fmt: skip


async def update(rt: Runtime, caller: Caller, job_id: str, changes: Mapping[str, Any], owner: str | None) -> JobRecord:
    """Change some fields (admins only); ``owner`` is the new agent's partner when it changed."""
    ensure_admin(caller)
    found = await get(rt, caller, job_id)
    merged = {**{k: getattr(found, k) for k in JobSpec.__slots__}, **changes}
    spec = JobSpec(**merged)
    if spec.agent_id is None:
        _check_gateway_job(rt, found.id, spec)
    values: dict[str, Any] = {**changes, "updated_at": now_us()}
    if owner is not None:
        values["owner"] = owner
    updated = await catalog.update_job(rt.db, found.id, values)
    if updated is None:
        raise NotFoundError(f"Job '{job_id}' doesn't exist")
    await _save_task(rt, updated)
    return updated


async def delete(rt: Runtime, caller: Caller, job_id: str) -> None:
    ensure_admin(caller)
    found = await get(rt, caller, job_id)
    await catalog.delete_job(rt.db, found.id)


@dataclass(frozen=True, slots=True)
class Claimed:
    run: JobRunRecord
    created: bool  # False: an unfinished run handed back (resumed)


async def claim(rt: Runtime, caller: Caller, job_id: str, resume_id: str | None) -> Claimed:
    """The run the calling agent works on now (see the module docstring); StateConflictError
    when none is due, the tick already ran, or another holder's lease is live."""
    job = await get(rt, caller, job_id)  # first: a job the caller cannot see is missing (404)
    if caller.agent_id is None:
        raise AuthorizationError("Only the job's agent starts its runs (X-API-Key)")
    if not job.enabled:
        raise StateConflictError(f"Job '{job.id}' is disabled")
    now = await task_catalog.db_now_us(rt.db, now_us())
    tick = scheduler.previous_tick(schedule_of(job), now)
    due = tick if tick >= job.created_at else None  # ticks before the job existed are not its own
    result = await catalog.claim(rt.db, job.id, caller.agent_id, due, resume_id, now, lease_us())
    if result.run is not None and result.outcome in ("created", "resumed"):
        return Claimed(result.run, result.outcome == "created")
    next_at = scheduler.next_tick(schedule_of(job), now)
    if result.outcome == "busy":
        raise StateConflictError(
            "A run of this job is already running under a live lease",
            {"runId": result.run.id if result.run else None, "nextRunAt": iso_ms(next_at),
             "leaseExpiresAt": iso_ms(result.run.lease_until if result.run else None)},
        )  # fmt: skip
    last = result.run.id if result.run else None
    raise StateConflictError("No run of this job is due now", {"runId": last, "nextRunAt": iso_ms(next_at)})


async def update_run(rt: Runtime, caller: Caller, job_id: str, run_id: str, changes: Mapping[str, Any]) -> JobRunRecord:
    """The agent reports progress (``running`` renews the lease) or the end of its run."""
    job = await get(rt, caller, job_id)
    found = await catalog.get_run(rt.db, run_id) if plausible_id(run_id) else None
    if found is None or found.job_id != job.id or (caller.agent_id is not None and found.agent_id != caller.agent_id):
        raise NotFoundError(f"Run '{run_id[:40]}' of job '{job.id}' doesn't exist")
    if caller.agent_id is None:
        ensure_admin(caller)
    if found.status in catalog.ENDED:
        raise StateConflictError(f"Run '{run_id}' has ended ({found.status})")
    now = await task_catalog.db_now_us(rt.db, now_us())
    values: dict[str, Any] = {**changes, "updated_at": now}
    if changes.get("status", "running") == "running":
        values["lease_until"] = now + lease_us()
    else:
        values["finished_at"], values["lease_until"] = now, None
    updated = await catalog.update_run(rt.db, found.id, values)
    assert updated is not None
    return updated


async def renew_leases(rt: Runtime, agent_id: str) -> int:
    """Called on an agent's heartbeat: the runs it holds stay its own."""
    now = await task_catalog.db_now_us(rt.db, now_us())
    return await catalog.renew_agent_leases(rt.db, agent_id, now, lease_us())


async def runs(
    rt: Runtime, caller: Caller, job_id: str, page: int, limit: int
) -> tuple[int, list[JobRunRecord | RunRecord]]:
    """A job's run history (admins): its agent's runs, or its task runs on the gateway."""
    ensure_admin(caller)
    job = await get(rt, caller, job_id)
    if job.agent_id is not None:
        total, found = await catalog.list_runs(rt.db, job.id, limit, (page - 1) * limit)
        return total, list(found)
    total, task_runs = await run_history.task_runs(rt.db, TASK_PREFIX + job.id, limit, (page - 1) * limit)
    return total, list(task_runs)


async def agent_partner(rt: Runtime, agent_id: str | None) -> str:
    """The partner owning agent ``agent_id`` ("" without an agent: admins only see the job)."""
    if agent_id is None:
        return ""
    agent = await agent_catalog.get(rt.db, agent_id) if plausible_id(agent_id) else None
    if agent is None:
        raise InvalidInputError("Invalid job", [{"field": "agentId", "message": f"no agent '{agent_id}'"}])
    return agent.partner
