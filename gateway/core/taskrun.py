"""The one executor: every run the dispatcher claims is a task run, its steps in order, each with
retry, timeout and error policy.

A contract action's run (kinds ``webhook``/``command``/``route``) is the implicit one-step task
``contract:<contract>/<action>`` (:func:`contract_task`): its step runs on the event itself and
its outcome is the run's, retried by the dispatcher under the action's policy.

Steps pass files on: a step's input is the files the previous step produced (a pull's pulled
files, a route's copies; a command, webhook or push passes its input through), and the first
step's input is the trigger's file, if any. A webhook or command step runs once per input file,
or once with the trigger alone when there is none.

Per-step state (status, attempts, bytes, error, output, files) is written to the run after each
attempt, so a status poll shows progress. A run claimed again after its peer died resumes after
its last finished step. Abort cancels the running coroutine: a command's process group is
killed, a transfer's stream closed and its storage temp object discarded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from gateway.catalog import files as file_catalog, tasks as task_catalog
from gateway.catalog.records import EventRecord, RunRecord
from gateway.config._tasks import parse_definition
from gateway.config.schema import Step, StepKind, Task
from gateway.core import commands, routing, transfer_steps, webhooks
from gateway.core.outcome import Outcome, RunContext
from gateway.core.runtime import Runtime
from gateway.core.timefmt import now_us
from gateway.core.transfer_steps import FileRef, StepResult, file_ref
from gateway.errors import GatewayError, RemoteError

if TYPE_CHECKING:
    import httpx  # the dispatcher imports it when it first runs an action

log = logging.getLogger("gateway.tasks")
_US = 1_000_000


async def load_task(rt: Runtime, run: RunRecord) -> Task | None:
    if run.task_version is None:  # queued by a file event: the version in force when it runs
        version = await task_catalog.latest(rt.db, run.action)
        if version is not None:
            await task_catalog.set_version(rt.db, run.id, version.version)
    else:
        version = await task_catalog.get(rt.db, run.action, run.task_version)
    if version is None:
        return None
    task, _ = parse_definition("task", run.action, json.loads(version.definition), rt.config.vfs,
                               rt.config.connections)  # fmt: skip
    return task


def contract_task(rt: Runtime, run: RunRecord) -> Task | None:
    """A contract action's run as the implicit one-step task ``contract:<contract>/<action>``."""
    action = rt.actions.action(run.contract, run.action)
    if action is None or action.task is not None:
        return None
    kind: StepKind = "webhook" if action.webhook else "command" if action.command else "route"
    step = Step(name=action.name, kind=kind, webhook=action.webhook, command=action.command, route=action.route)
    return Task(name=f"contract:{run.contract}/{run.action}", steps=(step,), params=action.params)


async def execute(rt: Runtime, client: httpx.AsyncClient, run: RunRecord, event: EventRecord) -> Outcome:
    """One attempt of ``run``. A contract action's implicit task runs its one step on the event
    itself and reports that step's outcome as the run's (its retries are the run's, under the
    action's retry policy, recorded in the run's history as they always were)."""
    if run.kind != task_catalog.TASK_KIND:
        implicit = contract_task(rt, run)
        if implicit is None:
            return Outcome(ok=False, error="the action is no longer configured", retryable=False)
        return await _step_outcome(rt, client, implicit.steps[0], RunContext(run=run, event=event))
    task = await load_task(rt, run)
    if task is None:
        return Outcome(
            ok=False, error=f"task {run.action!r} version {run.task_version} is not valid here", retryable=False
        )
    state: list[dict[str, object]] = [dict(s) for s in run.steps] or [
        {"name": s.name, "kind": s.kind, "status": "Queued", "attempts": 0, "bytes": 0} for s in task.steps
    ]
    files: list[FileRef] = []
    if event.fileset is not None:
        record = await file_catalog.get_by_id(rt.db, event.fileset)
        if record is not None:
            files = [file_ref(record)]
    failed: list[str] = []
    for index, step in enumerate(task.steps):
        entry = state[index]
        if entry.get("status") == "Finished":  # resumed after a peer died: keep its result
            files = [FileRef(**f) for f in entry.get("files", [])]  # type: ignore[attr-defined]
            continue
        result = await _run_step(rt, client, run, event, step, files, entry, state)
        if result.ok:
            files = result.files
        elif step.on_error == "continue":
            failed.append(step.name)
        else:
            for later in state[index + 1 :]:
                later["status"] = "Skipped"
            await task_catalog.set_steps(rt.db, run.id, state)
            return Outcome(ok=False, output=_summary(state), error=f"step {step.name!r} failed: {result.error}",
                           retryable=False)  # fmt: skip
    if failed:
        return Outcome(ok=True, output=_summary(state) + f"\ncontinued past failed step(s): {', '.join(failed)}")
    return Outcome(ok=True, output=_summary(state))


def _summary(state: list[dict[str, object]]) -> str:
    return "\n".join(f"{s['name']}: {s['status']} ({s['attempts']} attempt(s))" for s in state)


async def _run_step(
    rt: Runtime,
    client: httpx.AsyncClient,
    run: RunRecord,
    event: EventRecord,
    step: Step,
    files: list[FileRef],
    entry: dict[str, object],
    state: list[dict[str, object]],
) -> StepResult:
    from gateway.core.dispatcher import backoff_us

    entry.update(status="InProgress", started=now_us(), attempts=0, error="")
    result = StepResult(ok=False, output=[], files=[])
    for attempt in range(1, step.retry.max_attempts + 1):
        entry["attempts"] = attempt
        await task_catalog.set_steps(rt.db, run.id, state)
        try:
            result = await asyncio.wait_for(_dispatch(rt, client, run, event, step, files), step.timeout_seconds)
        except TimeoutError:
            result = StepResult(ok=False, output=[], files=[], error=f"timed out after {step.timeout_seconds:g} s")
        except asyncio.CancelledError:  # aborted, or the process is shutting down
            entry.update(status="Canceled", ended=now_us())
            await asyncio.shield(task_catalog.set_steps(rt.db, run.id, state))
            raise
        except RemoteError as exc:
            result = StepResult(ok=False, output=[], files=[], error=exc.message, retryable=exc.retryable)
        except GatewayError as exc:
            result = StepResult(ok=False, output=[], files=[], error=exc.message, retryable=False)
        entry.update(bytes=result.bytes, output="\n".join(result.output)[-4000:], error=result.error[:2000])
        if result.ok or not result.retryable or attempt == step.retry.max_attempts:
            break
        delay = backoff_us(attempt, step.retry.backoff_seconds, step.retry.max_backoff_seconds)
        entry["status"] = "Retrying"
        await task_catalog.set_steps(rt.db, run.id, state)
        await asyncio.sleep(delay / _US)
    entry.update(
        status="Finished" if result.ok else "Failed", ended=now_us(), files=[f.as_dict() for f in result.files]
    )
    await task_catalog.set_steps(rt.db, run.id, state)
    return result


def _context(run: RunRecord, event: EventRecord, file: FileRef | None) -> RunContext:
    if file is None:
        return RunContext(run=run, event=event)
    as_event = dataclasses.replace(event, vfs=file.vfs, path=file.path, fileset=file.fileset, size=file.size,
                                   sha256=file.sha256)  # fmt: skip
    return RunContext(run=run, event=as_event)


async def _per_file(
    run: RunRecord, event: EventRecord, files: list[FileRef], call: Callable[[RunContext], Awaitable[Outcome]]
) -> StepResult:
    output: list[str] = []
    targets: list[FileRef | None] = [*files] or [None]
    for file in targets:
        outcome = await call(_context(run, event, file))
        if outcome.output:
            output.append(outcome.output)
        if not outcome.ok:
            return StepResult(False, output, [], error=outcome.error, retryable=outcome.retryable)
    return StepResult(True, output, list(files))


async def _step_outcome(rt: Runtime, client: httpx.AsyncClient, step: Step, ctx: RunContext) -> Outcome:
    """A webhook, command or route step on one event (or file), as one outcome."""
    if step.webhook is not None:
        return await webhooks.deliver(client, step.webhook, ctx)
    if step.command is not None:
        return await commands.run(step.command, ctx)
    if step.route is not None:
        return await routing.route(rt, step.route, ctx)
    return Outcome(ok=False, error=f"unknown step kind {step.kind}", retryable=False)


async def _dispatch(
    rt: Runtime, client: httpx.AsyncClient, run: RunRecord, event: EventRecord, step: Step, files: list[FileRef]
) -> StepResult:
    if step.webhook is not None or step.command is not None:
        return await _per_file(run, event, files, lambda ctx: _step_outcome(rt, client, step, ctx))
    if step.route is not None:
        return await _route(rt, run, event, step, files)
    if step.pull is not None:
        return await transfer_steps.pull(rt, run, step.pull)
    if step.push is not None:
        return await transfer_steps.push(rt, run, step.push, files)
    return StepResult(False, [], [], error=f"unknown step kind {step.kind}", retryable=False)


async def _route(rt: Runtime, run: RunRecord, event: EventRecord, step: Step, files: list[FileRef]) -> StepResult:
    assert step.route is not None
    if not files:
        return StepResult(False, [], [], error="a route step needs an input file (none was given)", retryable=False)
    output: list[str] = []
    produced: list[FileRef] = []
    total = 0
    for file in files:
        outcome = await routing.route(rt, step.route, _context(run, event, file))
        output.append(outcome.output or outcome.error)
        if not outcome.ok:
            return StepResult(False, output, [], total, outcome.error, outcome.retryable)
        name = file.path.rpartition("/")[2]
        copied = await file_catalog.get_file(rt.db, step.route.vfs, step.route.path.text, name)
        if copied is not None:
            produced.append(file_ref(copied))
            total += copied.size
    return StepResult(True, output, produced, total)
