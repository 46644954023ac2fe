"""Executing one task run: its steps in order, each with retry, timeout and error policy.

Called by the dispatcher for a claimed run of kind ``task`` (the same claim, lease, abort and
record path as a contract action's run). Steps pass files on: a step's input is the files the
previous step produced (a pull's pulled files, a route's copies; a command, webhook or push
passes its input through), and the first step's input is the trigger's file, if any. A webhook
or command step runs once per input file, or once with the trigger alone when there is none.

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
import mimetypes
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx

from gateway.catalog import files as file_catalog, tasks as task_catalog
from gateway.catalog.records import EventRecord, FileRecord, NewEvent, RunRecord
from gateway.config._tasks import parse_definition
from gateway.config.schema import PullStep, PushStep, Step, Task
from gateway.connectors import open_connector
from gateway.core import commands, routing, webhooks
from gateway.core.files import discard_unless_committed, new_file
from gateway.core.outcome import Outcome, RunContext
from gateway.core.runtime import Runtime
from gateway.core.timefmt import now_us
from gateway.core.tracked import counted, reason, run_tracker
from gateway.errors import GatewayError, LimitExceededError, RemoteError

log = logging.getLogger("gateway.tasks")
_US = 1_000_000


@dataclass(frozen=True, slots=True)
class FileRef:
    vfs: str
    path: str
    fileset: int
    size: int
    sha256: str

    def as_dict(self) -> dict[str, object]:
        return {"vfs": self.vfs, "path": self.path, "fileset": self.fileset, "size": self.size, "sha256": self.sha256}


def _ref(record: FileRecord) -> FileRef:
    return FileRef(record.vfs, file_catalog.vfs_path(record), record.fileset, record.size, record.sha256)


@dataclass(slots=True)
class StepResult:
    ok: bool
    output: list[str]
    files: list[FileRef]
    bytes: int = 0
    error: str = ""
    retryable: bool = True


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


async def execute(rt: Runtime, client: httpx.AsyncClient, run: RunRecord, event: EventRecord) -> Outcome:
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
            files = [_ref(record)]
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


async def _dispatch(
    rt: Runtime, client: httpx.AsyncClient, run: RunRecord, event: EventRecord, step: Step, files: list[FileRef]
) -> StepResult:
    if step.webhook is not None:
        hook = step.webhook
        return await _per_file(run, event, files, lambda ctx: webhooks.deliver(client, hook, ctx))
    if step.command is not None:
        command = step.command
        return await _per_file(run, event, files, lambda ctx: commands.run(command, ctx))
    if step.route is not None:
        return await _route(rt, run, event, step, files)
    if step.pull is not None:
        return await _pull(rt, run, step.pull)
    if step.push is not None:
        return await _push(rt, run, step.push, files)
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
            produced.append(_ref(copied))
            total += copied.size
    return StepResult(True, output, produced, total)


async def _pull(rt: Runtime, run: RunRecord, pull: PullStep) -> StepResult:
    connector = open_connector(rt.config.connections[pull.connection])
    output: list[str] = []
    produced: list[FileRef] = []
    total = 0
    try:
        for entry in await connector.list(pull.folder, pull.glob):
            stream = await connector.open_read(entry.path)
            into = f"{pull.vfs}:{pull.path.child(entry.name)}"
            tracker = run_tracker(rt, run, "pull", pull.connection, f"{pull.connection}:{entry.path}", into,
                                  rt.config.vfs[pull.vfs].actor)  # fmt: skip
            try:
                record = await _store(rt, pull, entry.name, counted(aiter(stream), tracker), f"pull:{run.action}")
            except BaseException as exc:
                tracker.finish("failed", error=reason(exc))
                raise
            finally:
                await stream.aclose()
            tracker.finish("completed", size=record.size, sha256=record.sha256)
            total += record.size
            produced.append(_ref(record))
            if pull.delete_source:
                await connector.delete(entry.path)
            output.append(f"pulled {entry.path} ({record.size} bytes) to {pull.vfs}:{file_catalog.vfs_path(record)}")
    finally:
        await connector.close()
    if not produced:
        output.append(f"no file matched {pull.glob!r} in {pull.connection}:{pull.folder or '/'}")
    return StepResult(True, output, produced, total)


async def _store(rt: Runtime, pull: PullStep, name: str, chunks: AsyncIterator[bytes], by: str) -> FileRecord:
    """Stream ``chunks`` into a new file ``name`` of the pull's folder, with its upload event."""
    backend = rt.mounts.backend_for(pull.vfs, pull.path)
    limit = rt.max_file_size(pull.vfs)
    writer = await backend.open_write()
    try:
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if limit is not None and size > limit:
                raise LimitExceededError(f"{name} exceeds the largest file VFS {pull.vfs!r} accepts ({limit} bytes)")
            await writer.write(chunk)
        stored = await writer.commit()
    except BaseException:
        await writer.abort()
        raise
    target = rt.config.vfs[pull.vfs]
    now = now_us()
    path = str(pull.path.child(name))
    datatype = mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"
    record_new = new_file(target, pull.path, name, backend.name, stored, now, by, datatype=datatype)
    upload = NewEvent(
        type="upload", time=now, actor=target.actor, user=by, vfs=target.name, path=path, protocol="pull",
        size=stored.size, sha256=stored.sha256, runs=rt.actions.plan(target.name, path, "upload", {}),
    )  # fmt: skip
    try:
        record, replaced = await file_catalog.put_file(rt.db, record_new, {}, upload)
    except BaseException:
        await discard_unless_committed(rt, backend, stored.key)
        raise
    for old in replaced:
        await rt.mounts.backends[old.storage].delete(old.storage_key)
    rt.wake()
    return record


async def _push(rt: Runtime, run: RunRecord, push: PushStep, files: list[FileRef]) -> StepResult:
    if not files:
        return StepResult(False, [], [], error="a push step needs an input file (none was given)", retryable=False)
    connector = open_connector(rt.config.connections[push.connection])
    output: list[str] = []
    total = 0
    try:
        for file in files:
            record = await file_catalog.get_by_id(rt.db, file.fileset)
            if record is None:
                return StepResult(False, output, [], total, f"{file.vfs}:{file.path} no longer exists", False)
            reader = await rt.mounts.backends[record.storage].open_read(record.storage_key, record.size)
            target = f"{push.folder.strip('/')}/{record.name}".lstrip("/")
            source, actor = f"{file.vfs}:{file.path}", rt.config.vfs[file.vfs].actor
            tracker = run_tracker(rt, run, "push", push.connection, source, f"{push.connection}:{target}", actor,
                                  size=record.size, sha256=record.sha256)  # fmt: skip
            try:
                chunks = counted(reader.iter_range(0, reader.size), tracker)
                written = await connector.write(target, chunks, record.size, record.sha256)
            except BaseException as exc:
                tracker.finish("failed", error=reason(exc))
                raise
            finally:
                await reader.close()
            tracker.finish("completed")
            total += written.size
            output.append(f"pushed {file.vfs}:{file.path} to {push.connection}:{written.path} ({written.size} bytes)")
    finally:
        await connector.close()
    return StepResult(True, output, list(files), total)
