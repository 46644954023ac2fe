"""Storage readers and writers that count their bytes into a transfer row (core/transfer_log.py).

They wrap the backend's objects for ``/2.0`` uploads and downloads, so the transfer's progress
is known without the HTTP layer taking part; each chunk costs one addition (the row is
rewritten at most once a second).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from gateway.catalog.records import RunRecord
from gateway.core import transfer_log
from gateway.core.runtime import Runtime
from gateway.core.transfer_log import Tracker
from gateway.errors import GatewayError
from gateway.storage.base import CHUNK_SIZE, ObjectReader, ObjectWriter, StoredObject


class TrackedWriter:
    def __init__(self, inner: ObjectWriter, tracker: Tracker) -> None:
        self.inner = inner
        self.tracker = tracker

    @property
    def size(self) -> int:
        return self.inner.size

    async def write(self, data: bytes | memoryview) -> None:
        await self.inner.write(data)
        self.tracker.add(len(data))

    async def commit(self) -> StoredObject:
        return await self.inner.commit()

    async def abort(self) -> None:
        await self.inner.abort()


class TrackedReader:
    """Counts what :meth:`iter_range` yields; at :meth:`close` the transfer is completed when the
    range asked for was read whole, else cancelled (the client went away). A reader closed
    without a read was sent by the server from its file (``pathsend``): the whole object, unless
    the server said it could not (:meth:`interrupted`)."""

    def __init__(self, inner: ObjectReader, tracker: Tracker) -> None:
        self.inner = inner
        self.tracker = tracker
        self._wanted: int | None = None
        self._read = 0
        self._interrupted = False

    @property
    def size(self) -> int:
        return self.inner.size

    @property
    def local_path(self) -> str | None:
        return self.inner.local_path

    async def iter_range(self, start: int, length: int, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        self._wanted = length if self._wanted is None else self._wanted + length
        async for chunk in self.inner.iter_range(start, length, chunk_size):
            self._read += len(chunk)
            self.tracker.add(len(chunk))
            yield chunk

    def whole(self) -> bytes | None:
        data = self.inner.whole()
        if data is not None:
            self._wanted = len(data) if self._wanted is None else self._wanted + len(data)
            self._read += len(data)
            self.tracker.add(len(data))
        return data

    def interrupted(self) -> None:
        self._interrupted = True

    async def close(self) -> None:
        try:
            await self.inner.close()
        finally:
            if self._interrupted:
                self.tracker.finish("cancelled", error="the client stopped reading")
            elif self._wanted is None:
                self.tracker.add(self.inner.size)
                self.tracker.finish("completed")
            elif self._read >= self._wanted:
                self.tracker.finish("completed")
            else:
                self.tracker.finish("cancelled", error="the client stopped reading")


async def counted(chunks: AsyncIterator[bytes], tracker: Tracker) -> AsyncIterator[bytes]:
    """``chunks`` unchanged, each counted into ``tracker`` (task-run pulls and pushes)."""
    async for chunk in chunks:
        tracker.add(len(chunk))
        yield chunk


def run_tracker(
    rt: Runtime,
    run: RunRecord,
    direction: str,
    connection: str,
    source: str,
    destination: str,
    partner: str,
    **known: Any,
) -> Tracker:
    """The transfer row of one file a task run's pull or push step moves (written in a batch)."""
    kind = rt.config.connections[connection].type
    return transfer_log.begin(rt.db, direction=direction, protocol=kind, source=source, destination=destination,
                              partner=partner, owner=f"task:{run.action}", run_id=run.id, **known)  # fmt: skip


def reason(exc: BaseException) -> str:
    """What a failed transfer row says: a domain error's safe message, else only its kind."""
    return exc.message[:500] if isinstance(exc, GatewayError) else type(exc).__name__
