"""Route actions: hand a file on to a folder of another (or the same) VFS.

The classic MFT hand-off: a partner's inbox to an internal application's folder, or to another
partner's outbox. The copy is a new file there (new fileset, the source's metadata, verified
SHA-256) with its own upload event, so the contracts bound to the target fire in turn — routes
chain. Every event remembers the hops that led to it, and a route that would revisit a hop, or
go further than ``MAX_HOPS``, is refused rather than looping.
"""

from __future__ import annotations

import logging

from gateway.catalog import files as catalog
from gateway.catalog.records import FileRecord, NewEvent
from gateway.config.schema import RouteAction
from gateway.core.files import commit_file, new_file
from gateway.core.outcome import Outcome, RunContext
from gateway.core.runtime import Runtime
from gateway.core.timefmt import now_us
from gateway.storage.base import StoredObject

log = logging.getLogger("gateway.routing")
MAX_HOPS = 8


async def _copy_bytes(rt: Runtime, source: FileRecord, action: RouteAction) -> StoredObject:
    backend = rt.mounts.backend_for(action.vfs, action.path)
    reader = await rt.mounts.backends[source.storage].open_read(source.storage_key, source.size)
    try:
        writer = await backend.open_write()
        try:
            async for chunk in reader.iter_range(0, reader.size):
                await writer.write(chunk)
            return await writer.commit()
        except BaseException:
            await writer.abort()
            raise
    finally:
        await reader.close()


async def route(rt: Runtime, action: RouteAction, ctx: RunContext) -> Outcome:
    event = ctx.event
    source = await catalog.get_by_id(rt.db, event.fileset) if event.fileset is not None else None
    if source is None:
        return Outcome(ok=False, error="the file to route no longer exists", retryable=False)
    target_path = str(action.path.child(source.name))
    hop = f"{action.vfs}:{target_path}"
    chain = (*event.chain, f"{source.vfs}:{catalog.vfs_path(source)}")
    if hop in chain or len(chain) >= MAX_HOPS:
        return Outcome(ok=False, error=f"route to {hop} refused: it would loop ({' -> '.join(chain)})", retryable=False)
    stored = await _copy_bytes(rt, source, action)
    backend = rt.mounts.backend_for(action.vfs, action.path)
    if stored.sha256 != source.sha256:
        await backend.delete(stored.key)
        return Outcome(ok=False, error="the copy's SHA-256 differs from the source's")
    metadata = await catalog.get_metadata(rt.db, source.fileset)
    target = rt.config.vfs[action.vfs]
    now = now_us()
    by = f"route:{ctx.run.contract}/{ctx.run.action}"
    new = new_file(
        target, action.path, source.name, backend.name, stored, now, by,
        datatype=source.datatype, correlation_id=source.correlation_id,
        description=source.description, dst_file_name=source.dst_file_name,
    )  # fmt: skip
    upload = NewEvent(
        type="upload", time=now, actor=target.actor, user=by, vfs=target.name, path=target_path, protocol="route",
        contract=ctx.run.contract, size=stored.size, sha256=stored.sha256, metadata=metadata, chain=chain,
        runs=rt.actions.plan(target.name, target_path, "upload", metadata),
    )  # fmt: skip
    record, replaced = await commit_file(rt, backend, new, metadata, upload)
    for old in replaced:
        await rt.mounts.backends[old.storage].delete(old.storage_key)
    if action.mode == "move":
        await _remove_source(rt, source, metadata, chain, by, ctx)
    rt.wake()
    return Outcome(ok=True, output=f"{action.mode} to {hop} as fileset {record.fileset}")


async def _remove_source(
    rt: Runtime, source: FileRecord, metadata: dict[str, str], chain: tuple[str, ...], by: str, ctx: RunContext
) -> None:
    path = catalog.vfs_path(source)
    gone = NewEvent(
        type="delete", time=now_us(), actor=source.actor, user=by, vfs=source.vfs, path=path, protocol="route",
        contract=ctx.run.contract, fileset=source.fileset, size=source.size, sha256=source.sha256,
        metadata=metadata, chain=chain[:-1], runs=rt.actions.plan(source.vfs, path, "delete", metadata),
    )  # fmt: skip
    if await catalog.delete_file(rt.db, source, gone):
        await rt.mounts.backends[source.storage].delete(source.storage_key)
