"""Transfer rows of ``/2.0`` uploads and downloads (and task-run steps), written in batches.

The small-file path must not pay a catalog commit per request for its transfer row, so
:func:`begin` only keeps a :class:`Tracker` in memory and a flusher writes every row begun or
changed since the last flush in one transaction, ``FLUSH_SECONDS`` later (a transfer that starts
and ends in between is one INSERT with its final state). In flight, byte counts are kept in
memory and the row is rewritten at most every ``PROGRESS_SECONDS``: never a write per chunk.

A tracker is the row's few raw fields, not a catalog record: the row (and its id, see
:func:`new_id`) is built only by the flush that writes it, so the request path pays for a handful
of attribute stores (bench/results/2026-12-03-xferrow.md), and a transfer reported by someone else
(``recorded=False``) never builds one.

The flusher is started on demand (no idle wake-ups) and :func:`flush` is awaited at shutdown,
so a row is lost only if the process dies within ``FLUSH_SECONDS`` of its last change.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
import weakref
from typing import Any

from gateway.catalog import transfers as catalog
from gateway.catalog.db import Database
from gateway.catalog.percatalog import PerCatalog
from gateway.core.timefmt import now_us

log = logging.getLogger("gateway.transfers")
FLUSH_SECONDS = 0.25
PROGRESS_SECONDS = 1.0
_RETRY_SECONDS = 5.0
_MAX_PENDING = 100_000  # beyond this (catalog down for long), new rows are dropped, with a log line


class Tracker:
    """One transfer in flight; :meth:`add` is cheap enough to call per chunk. Its attributes are
    the row's columns (see :meth:`row`), read and written directly."""

    __slots__ = (
        "book", "_id", "direction", "protocol", "source", "destination", "size", "bytes_transferred", "progress",
        "speed", "status", "started_at", "ended_at", "updated_at", "sha256", "agent_id", "partner", "owner",
        "run_id", "error", "written", "last_write", "started",
    )  # fmt: skip

    def __init__(
        self, book: _Book, direction: str, protocol: str, source: str, destination: str, partner: str, owner: str,
        size: int | None, sha256: str | None, run_id: int | None, agent_id: str | None,
    ) -> None:  # fmt: skip
        self.book = book
        self._id: str | None = None
        self.direction, self.protocol, self.source, self.destination = direction, protocol, source, destination
        self.partner, self.owner, self.agent_id, self.run_id = partner, owner, agent_id, run_id
        self.size, self.sha256 = size, sha256
        self.bytes_transferred = self.progress = self.speed = 0
        self.status = "running"
        self.error: str | None = None
        self.started_at = self.updated_at = now_us()
        self.ended_at: int | None = None
        self.written = False  # whether the row is in the catalog
        self.last_write = self.started = time.monotonic()

    @property
    def id(self) -> str:
        """The row's id, made when first asked for (by the flush that inserts the row, as a rule)."""
        if self._id is None:
            self._id = new_id()
        return self._id

    def row(self) -> dict[str, Any]:
        """The row's values now, for catalog.save_many (taken at once: the tracker keeps changing)."""
        return {
            "id": self.id, "direction": self.direction, "protocol": self.protocol, "source": self.source,
            "destination": self.destination, "size": self.size, "bytes_transferred": self.bytes_transferred,
            "progress": self.progress, "speed": self.speed, "status": self.status, "started_at": self.started_at,
            "ended_at": self.ended_at, "updated_at": self.updated_at, "sha256": self.sha256,
            "agent_id": self.agent_id, "partner": self.partner, "owner": self.owner, "run_id": self.run_id,
            "error": self.error,
        }  # fmt: skip

    def add(self, count: int) -> None:
        self.bytes_transferred += count
        now = time.monotonic()
        if now - self.last_write >= PROGRESS_SECONDS:
            self.last_write = now
            done = self.bytes_transferred
            self.progress = min(99, done * 100 // self.size) if self.size else 0
            self.speed = int(done / max(now - self.started, 1e-3))
            self.updated_at = now_us()
            self.book.mark(self)

    def finish(self, status: str, size: int | None = None, sha256: str | None = None, error: str | None = None) -> None:
        """The end: ``completed`` (progress 100), ``failed`` or ``cancelled``. Idempotent."""
        if self.ended_at is not None:
            return
        if size is not None:
            self.size = size
        if sha256 is not None:
            self.sha256 = sha256
        self.status, self.error = status, error
        self.ended_at = self.updated_at = now_us()
        if status == "completed":
            self.progress = 100 if not self.size else min(100, self.bytes_transferred * 100 // self.size)
        elapsed = time.monotonic() - self.started
        self.speed = int(self.bytes_transferred / elapsed) if elapsed > 0 else 0
        self.book.mark(self)


class _Book:
    """The rows of one catalog waiting for the flusher. It refers to its catalog weakly: it is
    that catalog's value in a weak mapping (``_book``), which a strong reference back would keep
    alive for good. Rows still waiting when their catalog is gone have nowhere to go."""

    __slots__ = ("_db", "dirty", "task")

    def __init__(self, db: Database | None) -> None:
        self._db = weakref.ref(db) if db is not None else None
        self.dirty: dict[Tracker, None] = {}  # insertion-ordered set
        self.task: asyncio.Task[None] | None = None

    def mark(self, tracker: Tracker) -> None:
        dirty = self.dirty
        if len(dirty) >= _MAX_PENDING and tracker not in dirty:
            log.error("transfer log: %d rows wait for the catalog; transfer %s not recorded", _MAX_PENDING,
                      tracker.id)  # fmt: skip
            return
        dirty[tracker] = None
        task = self.task
        if task is None or task.done():
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
        db = self._db() if self._db is not None else None
        if db is None:
            log.warning("transfer log: %d row(s) dropped, their catalog is closed", len(batch))
            return
        # Rows are built here, before any await: a chunk counted while the write is in flight
        # must not tear a row.
        new = [t.row() for t in batch if not t.written]
        changed = [t.row() for t in batch if t.written] if len(new) < len(batch) else []
        try:
            await catalog.save_many(db, new, changed)
        except BaseException:
            for tracker in batch:
                self.dirty.setdefault(tracker, None)
            raise
        for tracker in batch:
            tracker.written = True


_book: PerCatalog[_Book] = PerCatalog(_Book)


_ID_COUNTER_BITS = 26  # 12 in the third group of the text, 14 in the fourth (after the variant bits)
_ids = itertools.count()
_id_node = ""
_id_clock: tuple[int, str] = (-1, "")  # (ms, the text of its 48 bits and the version digit)


def _seed_ids() -> None:
    """A new random node (the id's last 48 bits) and counter start, per process: ids made by
    peers sharing a catalog (and by forked children) differ in the node."""
    global _ids, _id_node
    _id_node = os.urandom(6).hex()
    _ids = itertools.count(int.from_bytes(os.urandom(4), "big") >> (32 - _ID_COUNTER_BITS))


_seed_ids()
os.register_at_fork(after_in_child=_seed_ids)


def new_id() -> str:
    """A UUID in the layout of UUIDv7 (RFC 9562): the time in ms, then a 26-bit counter (version
    and variant bits between), then a random 48-bit node drawn once per process (``_seed_ids``).

    The time first lands new rows at the end of the primary-key index instead of on a random
    page, so a batch of inserts dirties a few pages, not one per row. Unique: within a process
    the counter differs within any millisecond (it wraps after 67 million ids); across processes
    the node does (and the counter starts at random). The time's text is made once per ms, so an
    id costs one counter step and one format, about a third of a uuid.UUID's."""
    global _id_clock
    n = next(_ids) & (1 << _ID_COUNTER_BITS) - 1
    ms = time.time_ns() // 1_000_000
    clock = _id_clock
    if clock[0] != ms:
        clock = _id_clock = (ms, f"{ms >> 16 & 0xFFFFFFFF:08x}-{ms & 0xFFFF:04x}-7")
    return f"{clock[1]}{n >> 14:03x}-{0x8000 | n & 0x3FFF:04x}-{_id_node}"


def begin(
    db: Database, *, direction: str, protocol: str, source: str, destination: str, partner: str, owner: str,
    size: int | None = None, sha256: str | None = None, run_id: int | None = None, agent_id: str | None = None,
    recorded: bool = True,
) -> Tracker:  # fmt: skip
    """A running transfer, recorded by the next flush; with ``recorded=False`` it counts but
    writes nothing (its movement is reported by someone else, see core/files.py)."""
    book = _book(db) if recorded else _UNRECORDED
    tracker = Tracker(book, direction, protocol, source[:4096], destination[:4096], partner, owner, size, sha256,
                      run_id, agent_id)  # fmt: skip
    book.mark(tracker)
    return tracker


class _Unrecorded(_Book):
    def mark(self, tracker: Tracker) -> None:
        pass


_UNRECORDED = _Unrecorded(None)  # never flushed, so never needs a catalog


async def flush(db: Database, wait_seconds: float = 10.0) -> None:
    """Write what waits now (shutdown): let the flusher finish its loop (cancelling it mid-write
    could insert a row twice), then write anything left."""
    book = _book.peek(db)
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
