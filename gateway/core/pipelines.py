"""Seed 001's pipelines: a pipeline IS a task of issue 12 (the same parser, versions, runs),
plus its API metadata (identifier, name, description, enabled, owner) and every YAML text it
was given, byte for byte, with its SHA-256.

A customer may create and edit its own pipelines; starting runs, the run history and the
version history are for admins (as the document says), so a partner's definition only ever
executes when an admin starts it. Another partner's pipeline is reported missing (404).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.catalog import pipelines as catalog, tasks as task_catalog
from gateway.catalog.pipelines import PipelineRecord, PipelineVersion
from gateway.catalog.records import RunRecord
from gateway.config._tasks import parse_definition
from gateway.config.pipeline_yaml import ORIGIN, Problem, locate, read
from gateway.config.schema import Task
from gateway.core import tasks
from gateway.core.job_schedules import TASK_PREFIX
from gateway.core.owners import Caller, InvalidInputError, StateConflictError, ensure_admin, plausible_id
from gateway.core.runtime import Runtime
from gateway.core.timefmt import now_us
from gateway.errors import BusyError, NotFoundError

MAX_YAML = 256 * 1024
_API_ONLY = ("schedules", "trigger")  # declared in tasks.yaml only (docs/automation.md)


@dataclass(frozen=True, slots=True)
class Checked:
    body: dict[str, object]  # the document, ready for tasks.create
    problems: tuple[Problem, ...]


def check(rt: Runtime, text: str, caller: Caller, identifier: str = "pipeline") -> Checked:
    """Every problem of a pipeline's YAML with its line and column (none: it would be saved)."""
    parsed = read(text)
    if parsed.problems:
        return Checked({}, parsed.problems)
    data = parsed.data
    problems: list[str] = []
    if isinstance(data, dict):
        problems += [f"{ORIGIN}: {key}: {_why(key)}" for key in _API_ONLY if key in data]
    task, found = parse_definition(ORIGIN, identifier, data, rt.config.vfs, rt.config.connections)
    problems += found
    if task is not None and not caller.admin:
        problems += _customer_limits(rt, task, caller.owner)
    located = tuple(locate(parsed.node, p) for p in problems)
    return Checked(dict(data) if isinstance(data, dict) else {}, located)


def _customer_limits(rt: Runtime, task: Task, partner: str) -> list[str]:
    """A customer's pipeline stays inside its partner: no programs on the gateway, and only its
    partner's VFSs as input and as targets (an admin still starts every run)."""
    problems: list[str] = []
    own = {name for name, vfs in rt.config.vfs.items() if vfs.actor == partner}
    if task.input_vfs is not None and task.input_vfs not in own:
        problems.append(f"{ORIGIN}: input.vfs: VFS '{task.input_vfs}' is not one of your partner's")
    for index, step in enumerate(task.steps):
        at = f"{ORIGIN}: steps[{index}]"
        if step.kind == "command":
            problems.append(f"{at}.command: command steps are for admins (they run programs on the gateway)")
        target = step.route.vfs if step.route else step.pull.vfs if step.pull else None
        if target is not None and target not in own:
            problems.append(f"{at}.{step.kind}.vfs: VFS '{target}' is not one of your partner's")
    return problems


def _why(key: str) -> str:
    return f"'{key}' is declared in tasks.yaml only; a pipeline is started through POST /api/pipelines/{{id}}/runs"


def _refuse(checked: Checked) -> None:
    if checked.problems:
        raise InvalidInputError(
            f"Invalid pipeline YAML: {len(checked.problems)} problem(s)", [p.as_json() for p in checked.problems]
        )


async def _save_task(rt: Runtime, caller: Caller, identifier: str, text: str) -> int:
    checked = check(rt, text, caller, identifier)
    _refuse(checked)
    _, version = await tasks.create(rt, {**checked.body, "name": identifier}, text)
    return version


def _version(pipeline_id: str, number: int, text: str, task_version: int, now: int) -> PipelineVersion:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return PipelineVersion(pipeline_id, number, text, digest, task_version, now)


async def create(
    rt: Runtime, caller: Caller, identifier: str, name: str, description: str, text: str, enabled: bool
) -> PipelineRecord:
    """Check and save a new pipeline (its task's next version); StateConflictError when the
    identifier is taken (by a pipeline or a task of the configuration)."""
    if identifier in rt.config.tasks.tasks or identifier.startswith(TASK_PREFIX):
        raise StateConflictError(f"Identifier '{identifier}' is reserved (a configured task or a job's)")
    if await catalog.by_identifier(rt.db, identifier) is not None:
        raise StateConflictError(f"Pipeline '{identifier}' already exists")
    if await task_catalog.latest(rt.db, identifier) is not None:  # another API's task: not ours to replace
        raise StateConflictError(f"A task named '{identifier}' exists already; choose another identifier")
    task_version = await _save_task(rt, caller, identifier, text)
    now, pipeline_id = now_us(), str(uuid.uuid4())
    values = {"id": pipeline_id, "identifier": identifier, "name": name, "description": description,
              "enabled": enabled, "owner": caller.owner, "version": 1,
              "created_at": now, "updated_at": now}  # fmt: skip
    created = await catalog.insert_pipeline(rt.db, values, _version(pipeline_id, 1, text, task_version, now))
    if created is None:
        raise StateConflictError(f"Pipeline '{identifier}' already exists")
    return created


async def get(rt: Runtime, caller: Caller, pipeline_id: str) -> PipelineRecord:
    """The pipeline if the caller may see it; NotFoundError otherwise (never a 403: it leaks)."""
    found = await catalog.get(rt.db, pipeline_id) if plausible_id(pipeline_id) else None
    if found is None or not caller.sees(found.owner):
        raise NotFoundError(f"Pipeline '{pipeline_id[:40]}' doesn't exist")
    return found


async def search(
    rt: Runtime, caller: Caller, enabled: bool | None, text: str | None, page: int, limit: int
) -> tuple[int, list[PipelineRecord]]:
    return await catalog.search(rt.db, caller.scope, enabled, text, limit, (page - 1) * limit)


async def current(rt: Runtime, caller: Caller, pipeline_id: str) -> tuple[PipelineRecord, PipelineVersion]:
    found = await get(rt, caller, pipeline_id)
    version = await catalog.version(rt.db, found.id, found.version)
    if version is None:  # pragma: no cover - written with the pipeline, in one transaction
        raise NotFoundError(f"Pipeline '{pipeline_id}' has no version {found.version}")
    return found, version


async def replace_yaml(rt: Runtime, caller: Caller, pipeline_id: str, text: str) -> PipelineVersion:
    """A new immutable version from ``text`` (the old ones stay, byte for byte)."""
    found = await get(rt, caller, pipeline_id)
    task_version = await _save_task(rt, caller, found.identifier, text)
    version = _version(found.id, found.version + 1, text, task_version, now_us())
    if not await catalog.add_version(rt.db, version, version.created_at):
        raise StateConflictError("The pipeline was changed by another request; read it again and retry")
    return version


async def update(rt: Runtime, caller: Caller, pipeline_id: str, changes: Mapping[str, object]) -> PipelineRecord:
    """Metadata only (name, description, enabled); the YAML changes through a new version."""
    found = await get(rt, caller, pipeline_id)
    updated = await catalog.update_meta(rt.db, found.id, {**changes, "updated_at": now_us()})
    if updated is None:
        raise NotFoundError(f"Pipeline '{pipeline_id}' doesn't exist")
    return updated


async def delete(rt: Runtime, caller: Caller, pipeline_id: str) -> None:
    """Forget the pipeline and its texts; its task's versions stay, for the runs that used them."""
    found = await get(rt, caller, pipeline_id)
    await catalog.delete_pipeline(rt.db, found.id)


async def start(rt: Runtime, caller: Caller, pipeline_id: str, params: Mapping[str, object]) -> RunRecord:
    """Queue a run of the current version (the run keeps that version); admins only."""
    ensure_admin(caller)
    found, version = await current(rt, caller, pipeline_id)
    if not found.enabled:
        raise StateConflictError(f"Pipeline '{found.identifier}' is disabled")
    try:
        started = await tasks.start(rt, found.identifier, params, "api", version=version.task_version)
    except BusyError as exc:
        raise StateConflictError(exc.message) from None
    return await tasks.get_run(rt, started.run_id)


async def runs(rt: Runtime, caller: Caller, pipeline_id: str, page: int, limit: int) -> tuple[int, list[RunRecord]]:
    ensure_admin(caller)
    found = await get(rt, caller, pipeline_id)
    return await catalog.task_runs(rt.db, found.identifier, limit, (page - 1) * limit)


async def versions(
    rt: Runtime, caller: Caller, pipeline_id: str, page: int, limit: int
) -> tuple[int, list[PipelineVersion]]:
    ensure_admin(caller)
    found = await get(rt, caller, pipeline_id)
    return await catalog.versions(rt.db, found.id, limit, (page - 1) * limit)
