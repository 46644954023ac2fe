"""Retention: delete files past their ``expiry_date`` and emit ``expire`` events.

Safe on several peers at once: each deletes by fileset, and only the peer whose delete removed
the row records the event (the catalog reports a row that was already gone).
"""

from __future__ import annotations

from gateway.catalog import files as catalog
from gateway.catalog.records import NewEvent
from gateway.core.runtime import Runtime
from gateway.core.timefmt import now_us

SYSTEM_USER = "system:retention"


async def sweep(rt: Runtime, batch: int = 200) -> int:
    """Expire every due file (in batches); returns how many this peer removed."""
    removed = 0
    while True:
        now = now_us()
        due = await catalog.due_for_expiry(rt.db, now, batch)
        for record in due:
            path = catalog.vfs_path(record)
            metadata = await catalog.get_metadata(rt.db, record.fileset)
            event = NewEvent(
                type="expire", time=now, actor=rt.config.vfs[record.vfs].actor if record.vfs in rt.config.vfs else "",
                user=SYSTEM_USER, vfs=record.vfs, path=path, fileset=record.fileset, size=record.size,
                sha256=record.sha256, metadata=metadata, runs=rt.actions.plan(record.vfs, path, "expire", metadata),
            )  # fmt: skip
            if await catalog.delete_file(rt.db, record, event):
                removed += 1
                if record.storage in rt.mounts.backends:
                    await rt.mounts.backends[record.storage].delete(record.storage_key)
        if len(due) < batch:
            break
    if removed:
        rt.wake()
    return removed
