"""Transfer rows of ``/2.0`` uploads and downloads (and task-run steps), written in batches.

The small-file path must not pay a catalog commit per request for its transfer row, so
:func:`begin` only keeps a :class:`Tracker` in memory and a flusher writes every row begun or
changed since the last flush in one transaction, ``FLUSH_SECONDS`` later (a transfer that starts
and ends in between is one INSERT with its final state). In flight, byte counts are kept in
memory and the row is rewritten at most every ``PROGRESS_SECONDS``: never a write per chunk.

The flusher is started on demand (no idle wake-ups) and :func:`flush` is awaited at shutdown,
so a row is lost only if the process dies within ``FLUSH_SECONDS`` of its last change.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
import weakref
from dataclasses import dataclass, field

from gateway.catalog import transfers as catalog
from gateway.catalog.db import Database
from gateway.catalog.transfers import TransferRecord
from gateway.core.timefmt import now_us

log = logging.getLogger("gateway.transfers")
FLUSH_SECONDS = 0.25
PROGRESS_SECONDS = 1.0
_RETRY_SECONDS = 5.0
_MAX_PENDING = 100_000  # beyond this (catalog down for long), new rows are dropped, with a log line


class Tracker:
    """One transfer in flight; :meth:`add` is cheap enough to call per chunk."""

    __slots__ = ("book", "record", "written", "last_write", "started")

    def __init__(self, book: _Book, record: TransferRecord) -> None:
        self.book = book
        self.record = record
        self.written = False  # whether the row is in the catalog
        self.last_write = self.started = time.monotonic()

    def add(self, count: int) -> None:
        r = self.record
        r.bytes_transferred += count
        now = time.monotonic()
        if now - self.last_write >= PROGRESS_SECONDS:
            self.last_write = now
            r.progress = min(99, r.bytes_transferred * 100 // r.size) if r.size else 0
            r.speed = int(r.bytes_transferred / max(now - self.started, 1e-3))
            r.updated_at = now_us()
            self.book.mark(self)

    def finish(self, status: str, size: int | None = None, sha256: str | None = None, error: str | None = None) -> None:
        """The end: ``completed`` (progress 100), ``failed`` or ``cancelled``. Idempotent."""
        r = self.record
        if r.ended_at is not None:
            return
        if size is not None:
            r.size = size
        if sha256 is not None:
            r.sha256 = sha256
        r.status, r.error = status, error
        r.ended_at = r.updated_at = now_us()
        if status == "completed":
            r.progress = 100 if not r.size else min(100, r.bytes_transferred * 100 // r.size)
        elapsed = time.monotonic() - self.started
        r.speed = int(r.bytes_transferred / elapsed) if elapsed > 0 else 0
        self.book.mark(self)


@dataclass(eq=False)
class _Book:
    db: Database
    dirty: dict[str, Tracker] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None

    def mark(self, tracker: Tracker) -> None:
        if len(self.dirty) >= _MAX_PENDING and tracker.record.id not in self.dirty:
            log.error("transfer log: %d rows wait for the catalog; transfer %s not recorded", _MAX_PENDING,
                      tracker.record.id)  # fmt: skip
            return
        self.dirty[tracker.record.id] = tracker
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._later())

    async def _later(self) -> None:
        delay = FLUSH_SECONDS
        while self.dirty:
            await asyncio.sleep(delay)
            try:
                await self.flush()
                delay = FLUSH_SECONDS
            except Exception:
                log.exception("transfer log: writing transfer rows failed (retrying)")
                delay = _RETRY_SECONDS

    async def flush(self) -> None:
        batch, self.dirty = self.dirty, {}
        if not batch:
            return
        # Snapshots: a chunk counted while the write is in flight must not tear a row.
        new = [catalog.snapshot(t.record) for t in batch.values() if not t.written]
        changed = [catalog.snapshot(t.record) for t in batch.values() if t.written]
        try:
            await catalog.save_many(self.db, new, changed)
        except BaseException:
            for key, tracker in batch.items():
                self.dirty.setdefault(key, tracker)
            raise
        for tracker in batch.values():
            tracker.written = True


_books: weakref.WeakKeyDictionary[Database, _Book] = weakref.WeakKeyDictionary()


def _book(db: Database) -> _Book:
    book = _books.get(db)
    if book is None:
        book = _books[db] = _Book(db)
    return book


def new_id() -> str:
    """A UUID whose first 48 bits are the time in ms (the layout of UUIDv7, RFC 9562): new rows
    land at the end of the primary-key index instead of on a random page, so a batch of inserts
    dirties a few pages, not one per row."""
    rand = int.from_bytes(os.urandom(10), "big")
    value = (
        (time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64 | 0b10 << 62 | rand & (1 << 62) - 1
    )
    return str(uuid.UUID(int=value))


def begin(
    db: Database, *, direction: str, protocol: str, source: str, destination: str, partner: str, owner: str,
    size: int | None = None, sha256: str | None = None, run_id: int | None = None, agent_id: str | None = None,
    recorded: bool = True,
) -> Tracker:  # fmt: skip
    """A running transfer, recorded by the next flush; with ``recorded=False`` it counts but
    writes nothing (its movement is reported by someone else, see core/files.py)."""
    now = now_us()
    record = TransferRecord(
        id=new_id(), direction=direction, protocol=protocol, source=source[:4096],
        destination=destination[:4096], size=size, bytes_transferred=0, progress=0, speed=0, status="running",
        started_at=now, ended_at=None, updated_at=now, sha256=sha256, agent_id=agent_id, partner=partner, owner=owner,
        run_id=run_id, error=None,
    )  # fmt: skip
    book = _book(db) if recorded else _UNRECORDED
    tracker = Tracker(book, record)
    book.mark(tracker)
    return tracker


class _Unrecorded(_Book):
    def mark(self, tracker: Tracker) -> None:
        pass


_UNRECORDED = _Unrecorded(db=None)  # type: ignore[arg-type]  # never flushed, so never needs one


async def flush(db: Database, wait_seconds: float = 10.0) -> None:
    """Write what waits now (shutdown): let the flusher finish its loop (cancelling it mid-write
    could insert a row twice), then write anything left."""
    book = _books.get(db)
    if book is None:
        return
    if book.task is not None and not book.task.done():
        try:
            await asyncio.wait_for(asyncio.shield(book.task), wait_seconds)
        except TimeoutError:
            log.error("transfer log: rows still unwritten after %gs at shutdown", wait_seconds)
            return
    await book.flush()


PURGE_SECONDS = 600.0


async def keep_trimmed(db: Database, retention_days: float) -> None:
    """Run for the life of the process: remove transfer rows older than ``retention_days``
    (by their last change) every ``PURGE_SECONDS``."""
    keep_us = int(retention_days * 86400 * 1_000_000)
    while True:
        try:
            removed = await catalog.purge(db, now_us() - keep_us)
            if removed:
                log.info("retention: %d transfer row(s) older than %g days removed", removed, retention_days)
        except Exception:
            log.exception("transfer row purge failed")
        await asyncio.sleep(PURGE_SECONDS)
