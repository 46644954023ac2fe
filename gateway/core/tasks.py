"""Tasks as a service: definitions and their versions, starting, watching and aborting runs.

Every façade (Automate-MFT ``/v1``, Automation-Services ``/rest/as/job``, the admin API) and the
scheduler call these functions; they never touch the catalog themselves. A definition from
``tasks.yaml`` is recorded at startup as a new version whenever its text changed; one created
through :func:`create` is checked by the same parser and recorded the same way, with the text
as sent. A run always executes the version it was started with.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.catalog import files as file_catalog, runs as run_catalog, tasks as catalog
from gateway.catalog.records import NewEvent, NewRun, RunRecord
from gateway.catalog.tasks import TaskVersion
from gateway.config._tasks import canonical, parse_definition
from gateway.config.schema import Task
from gateway.core import redact
from gateway.core.actions import expand
from gateway.core.paths import parse_config_path
from gateway.core.runtime import Runtime
from gateway.core.timefmt import now_us
from gateway.errors import InvalidParameterError, InvalidPathError, NotFoundError, RequestSyntaxError

TRIGGERS = ("api", "schedule", "event", "manual")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


@dataclass(frozen=True, slots=True)
class Started:
    run_id: int
    task: str
    version: int


async def sync_config(rt: Runtime) -> dict[str, int]:
    """Record the configured definitions (a new version for each changed one); name -> version."""
    versions: dict[str, int] = {}
    for name, definition in rt.config.tasks.definitions.items():
        saved = await catalog.save(rt.db, name, definition, definition, "config", now_us())
        versions[name] = saved.version
    return versions


def _check(rt: Runtime, origin: str, name: str, body: object) -> Task:
    task, problems = parse_definition(origin, name, body, rt.config.vfs, rt.config.connections)
    if task is None:
        raise RequestSyntaxError("Invalid task definition: " + "; ".join(problems[:20]))
    return task


async def create(rt: Runtime, body: object, source: str) -> tuple[Task, int]:
    """Check and record a definition sent through an API; returns it and its version. The task's
    name is the body's ``name`` (a new version of that task), or derived from its content."""
    if not isinstance(body, dict):
        raise RequestSyntaxError("Invalid task definition: expected a mapping with 'steps'")
    body = dict(body)
    given = body.pop("name", None)
    text = canonical(body)
    if given is None:
        name = "inline-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    elif isinstance(given, str) and given and len(given) <= 200 and set(given) <= _NAME_CHARS:
        name = given
    else:
        raise InvalidParameterError("name", "use 1 to 200 letters, digits, '-', '_' or '.'")
    if name in rt.config.tasks.tasks:
        raise RequestSyntaxError(f"Task '{name}' is defined in the configuration and cannot be replaced here")
    task = _check(rt, "definition", name, body)
    if task.schedules or task.trigger is not None:
        raise RequestSyntaxError(
            "Invalid task definition: schedules and file-event triggers are declared in tasks.yaml"
        )
    saved = await catalog.save(rt.db, name, text, source, "api", now_us())
    return task, saved.version


async def find(rt: Runtime, name: str, version: int | None = None) -> tuple[Task, int]:
    """Version ``version`` (default: the latest) of task ``name``."""
    if not name or len(name) > 255 or "\0" in name:  # no such name is ever saved (PostgreSQL refuses NUL)
        raise NotFoundError(f"Task '{name[:40]}' doesn't exist")
    found = await (catalog.latest(rt.db, name) if version is None else catalog.get(rt.db, name, version))
    if found is None:
        raise NotFoundError(f"Task '{name}' doesn't exist")
    return _check(rt, "task", name, json.loads(found.definition)), found.version


def effective_params(task: Task, overrides: Mapping[str, object]) -> dict[str, str]:
    params = dict(task.params)
    for key, value in overrides.items():
        if key not in task.params:
            known = ", ".join(task.params) or "(none)"
            raise InvalidParameterError(key, f"task '{task.name}' has no such parameter; its parameters: {known}")
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, str | int | float):
            raise InvalidParameterError(key, "expected a string, a number or a boolean")
        text = str(value)
        if "\0" in text:
            raise InvalidParameterError(key, "the value contains a NUL character (it cannot reach a command)")
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidParameterError(key, "the value is not valid Unicode (a lone surrogate)") from None
        params[key] = text
    return params


async def _input(
    rt: Runtime, task: Task, params: Mapping[str, str]
) -> tuple[str, str, int | None, int | None, str | None]:
    """The run's first input file (vfs, path, fileset, size, sha256) from ``input``, if declared."""
    if task.input_vfs is None or task.input_path is None:
        return "", "", None, None, None
    values = {**params, **{f"param.{k}": v for k, v in params.items()}}
    text = expand(task.input_path, values)
    try:
        vpath = parse_config_path(text)
    except InvalidPathError as exc:
        raise InvalidParameterError("input", f"{text!r} is not a valid path: {exc.message}") from None
    record = await file_catalog.get_file(rt.db, task.input_vfs, vpath.parent.text, vpath.name)
    if record is None:
        raise NotFoundError(f"Input file '{task.input_vfs}:{vpath}' of task '{task.name}' doesn't exist")
    return task.input_vfs, str(vpath), record.fileset, record.size, record.sha256


async def _event(
    rt: Runtime, task: Task, version: int, params: dict[str, str], trigger: str, user: str, actor: str, address: str
) -> NewEvent:
    vfs, path, fileset, size, sha256 = await _input(rt, task, params)
    if task.on_busy == "queue":
        ordering = f"task\x1f{task.name}\x1f{random.randrange(task.concurrency)}"  # N lanes: at most N at once
    else:
        ordering = f"task\x1f{task.name}\x1f{uuid.uuid4().hex}"  # admission caps it; no ordering needed
    run = NewRun(
        contract="", action=task.name, kind=catalog.TASK_KIND, max_attempts=1, ordering_key=ordering,
        params=params, manual=trigger != "event", task_version=version, trigger=trigger,
    )  # fmt: skip
    return NewEvent(
        type=catalog.TASK_KIND, time=now_us(), actor=actor, user=user, vfs=vfs, path=path, protocol=trigger,
        fileset=fileset, size=size, sha256=sha256, client_address=address, runs=(run,),
    )  # fmt: skip


async def start(
    rt: Runtime,
    name: str,
    overrides: Mapping[str, object],
    trigger: str = "api",
    user: str = "",
    actor: str = "",
    address: str = "",
    version: int | None = None,
) -> Started:
    """Queue a run of ``name`` (its latest version unless ``version``); BusyError when its
    concurrency (refuse policy) or the cluster-wide cap is reached."""
    task, version = await find(rt, name, version)
    params = effective_params(task, overrides)
    event = await _event(rt, task, version, params, trigger, user, actor, address)
    limit = task.concurrency if task.on_busy == "refuse" else None
    run_id = await catalog.insert_run(rt.db, event, name, limit, rt.config.tasks.max_active_runs)
    rt.wake()
    return Started(run_id, name, version)


async def fire_tick(
    rt: Runtime, schedule: str, task_name: str, tick: int, params: Mapping[str, str], worker: str
) -> int | None:
    """One schedule tick: the tick's row and its run together (None: another peer fired it;
    0: the tick fired but the task was busy or its input missing, so no run)."""
    try:
        task, version = await find(rt, task_name)
        effective = effective_params(task, params)
        event = await _event(rt, task, version, effective, "schedule", "scheduler", "", "")
    except (NotFoundError, RequestSyntaxError) as exc:
        note = f"{worker} (no run: {exc.message})"[:128]
        return await catalog.insert_tick_run(rt.db, schedule, tick, now_us(), note, None, task_name, None, 0)
    limit = task.concurrency if task.on_busy == "refuse" else None
    cap = rt.config.tasks.max_active_runs
    run_id = await catalog.insert_tick_run(rt.db, schedule, tick, now_us(), worker, event, task_name, limit, cap)
    if run_id:
        rt.wake()
    return run_id


async def definitions(rt: Runtime) -> list[tuple[TaskVersion, object]]:
    """Each task's latest version with its definition as an API may show it (secrets masked)."""
    return [(found, redact.definition(json.loads(found.definition))) for found in await catalog.names(rt.db)]


async def get_run(rt: Runtime, run_id: int) -> RunRecord:
    """A task run as an API may show it (secrets masked, see :mod:`gateway.core.redact`)."""
    found = await run_catalog.get(rt.db, run_id)
    if found is None or found.run.kind != catalog.TASK_KIND:
        raise NotFoundError(f"Task run '{run_id}' doesn't exist")
    return await redact.run(rt, found.run)


async def abort(rt: Runtime, run_id: int, reason: str = "") -> RunRecord:
    """Cancel a queued run, or ask the peer executing it to stop it; an ended run is left as it is
    (the caller sees its final status)."""
    await get_run(rt, run_id)
    await run_catalog.request_abort(rt.db, run_id, now_us(), reason)
    return await get_run(rt, run_id)


async def purge_runs(rt: Runtime, before: int) -> int:
    """Run history retention: forget task runs that ended before ``before``."""
    return await catalog.purge(rt.db, before)


@dataclass(frozen=True, slots=True)
class Usage:
    period_start: int  # microseconds, inclusive
    period_end: int  # exclusive
    counters: dict[str, int]


async def usage(rt: Runtime, now: int) -> Usage:
    """The usage counters of the current period: the calendar month (UTC) containing ``now``,
    within the plan's dates."""
    moment = datetime.datetime.fromtimestamp(now / 1_000_000, datetime.UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + datetime.timedelta(days=32)).replace(day=1)
    plan = rt.config.tasks.plan
    if plan.start_date:
        start = max(start, datetime.datetime.fromisoformat(plan.start_date).replace(tzinfo=datetime.UTC))
    if plan.end_date:
        last = datetime.datetime.fromisoformat(plan.end_date).replace(tzinfo=datetime.UTC)
        end = min(end, last + datetime.timedelta(days=1))
    since, until = int(start.timestamp() * 1_000_000), int(end.timestamp() * 1_000_000)
    return Usage(since, until, await catalog.usage(rt.db, since, max(since, until)))
