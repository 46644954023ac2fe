"""Transfer steps of a task: ``pull`` (remote endpoint -> VFS folder) and ``push`` (VFS files ->
remote endpoint), and the file references and step results that steps pass on.

A pulled file is stored like an upload (its own upload event, so contract actions and triggered
tasks see it); a push streams each input file from storage to the connector, which verifies size
and SHA-256 where its protocol allows.
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from dataclasses import dataclass

from gateway.catalog import files as file_catalog
from gateway.catalog.records import FileRecord, NewEvent, RunRecord
from gateway.config.schema import PullStep, PushStep
from gateway.connectors import open_connector
from gateway.core.files import commit_file, new_file
from gateway.core.runtime import Runtime
from gateway.core.timefmt import now_us
from gateway.core.tracked import counted, reason, run_tracker
from gateway.errors import LimitExceededError


@dataclass(frozen=True, slots=True)
class FileRef:
    vfs: str
    path: str
    fileset: int
    size: int
    sha256: str

    def as_dict(self) -> dict[str, object]:
        return {"vfs": self.vfs, "path": self.path, "fileset": self.fileset, "size": self.size, "sha256": self.sha256}


def file_ref(record: FileRecord) -> FileRef:
    return FileRef(record.vfs, file_catalog.vfs_path(record), record.fileset, record.size, record.sha256)


@dataclass(slots=True)
class StepResult:
    ok: bool
    output: list[str]
    files: list[FileRef]
    bytes: int = 0
    error: str = ""
    retryable: bool = True


async def pull(rt: Runtime, run: RunRecord, pull: PullStep) -> StepResult:
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
            produced.append(file_ref(record))
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
    record, replaced = await commit_file(rt, backend, record_new, {}, upload)
    for old in replaced:
        await rt.mounts.backends[old.storage].delete(old.storage_key)
    rt.wake()
    return record


async def push(rt: Runtime, run: RunRecord, push: PushStep, files: list[FileRef]) -> StepResult:
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
