"""Task definitions (every version), the admission of task runs, per-step state, retention.

A task run is a row of the one ``runs`` table (``kind = 'task'``, ``action`` = the task's name,
``contract`` empty) with the event that records its trigger, inserted by
:func:`gateway.catalog.files.insert_event` like any contract action's run, and claimed and
retried by the same dispatcher. Admission (concurrency, the cluster-wide cap) counts the task's
unfinished runs in the inserting transaction; on PostgreSQL a transaction-scoped advisory lock
on the task's name makes that count and the insert one step for every peer.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from gateway.catalog.db import CatalogConnection, Database
from gateway.catalog.files import insert_event
from gateway.catalog.models import events, runs, schedule_ticks, task_versions
from gateway.catalog.records import NewEvent
from gateway.errors import BusyError

TASK_KIND = "task"
ACTIVE = ("Queued", "InProgress")
_GLOBAL_LOCK = 0x6D667474  # "mftt": the advisory lock of the cluster-wide cap


@dataclass(frozen=True, slots=True)
class TaskVersion:
    name: str
    version: int
    definition: str  # canonical JSON
    source: str
    origin: str
    created_at: int


def _version(row: object) -> TaskVersion:
    m = row._mapping  # type: ignore[attr-defined]
    return TaskVersion(m["name"], m["version"], m["definition"], m["source"], m["origin"], m["created_at"])


async def latest(db: Database, name: str) -> TaskVersion | None:
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(task_versions)
                .where(task_versions.c.name == name)
                .order_by(task_versions.c.version.desc())
                .limit(1)
            )
        ).first()
    return _version(row) if row else None


async def get(db: Database, name: str, version: int) -> TaskVersion | None:
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(task_versions).where(task_versions.c.name == name, task_versions.c.version == version)
            )
        ).first()
    return _version(row) if row else None


async def names(db: Database) -> list[TaskVersion]:
    """The latest version of every task."""
    newest = (
        select(task_versions.c.name, func.max(task_versions.c.version).label("v"))
        .group_by(task_versions.c.name)
        .subquery()
    )
    async with db.read() as conn:
        rows = await conn.execute(
            select(task_versions)
            .join(newest, and_(newest.c.name == task_versions.c.name, newest.c.v == task_versions.c.version))
            .order_by(task_versions.c.name)
        )
        return [_version(r) for r in rows]


async def save(db: Database, name: str, definition: str, source: str, origin: str, now: int) -> TaskVersion:
    """Record ``definition`` as the next version of ``name`` unless it equals the latest one;
    returns the version in force. Two peers saving the same definition at once end up with one
    version (the primary key refuses the second insert, which then reads the first's)."""
    newest = select(task_versions).where(task_versions.c.name == name).order_by(task_versions.c.version.desc()).limit(1)
    for _ in range(5):
        try:
            async with db.write() as conn:  # read on the writing connection: it sees pending writes
                row = (await conn.execute(newest)).first()
                current = _version(row) if row else None
                if current is not None and current.definition == definition:
                    return current
                version = 1 if current is None else current.version + 1
                await conn.execute(
                    insert(task_versions).values(
                        name=name, version=version, definition=definition, source=source, origin=origin,
                        created_at=now,
                    )
                )  # fmt: skip
        except IntegrityError:
            continue
        return TaskVersion(name, version, definition, source, origin, now)
    raise BusyError(f"Task '{name}' is being changed by another request; try again")


def _lock_key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


async def _active(conn: CatalogConnection, name: str | None) -> int:
    where = [runs.c.kind == TASK_KIND, runs.c.status.in_(ACTIVE)]
    if name is not None:
        where.append(runs.c.action == name)
    return int((await conn.execute(select(func.count()).select_from(runs).where(*where))).scalar_one())


async def _admit(
    conn: CatalogConnection, is_sqlite: bool, name: str, concurrency: int | None, cluster_cap: int
) -> None:
    if not is_sqlite:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _GLOBAL_LOCK})
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(name)})
    if concurrency is not None and await _active(conn, name) >= concurrency:
        raise BusyError(f"Task '{name}' already has {concurrency} run(s) queued or in progress")
    if await _active(conn, None) >= cluster_cap:
        raise BusyError(f"{cluster_cap} task runs are already queued or in progress")


async def insert_run(db: Database, event: NewEvent, name: str, concurrency: int | None, cluster_cap: int) -> int:
    """Admit and queue one task run (``event.runs`` holds it); returns the run id. ``concurrency``
    None: the task queues beyond its limit (its ordering key serialises the runs instead)."""
    async with db.write() as conn:
        await _admit(conn, db.is_sqlite, name, concurrency, cluster_cap)
        event_id = await insert_event(conn, event)
        return int((await conn.execute(select(runs.c.id).where(runs.c.event_id == event_id))).scalar_one())


async def insert_tick_run(
    db: Database,
    schedule: str,
    tick: int,
    now: int,
    worker: str,
    event: NewEvent | None,
    name: str,
    concurrency: int | None,
    cluster_cap: int,
) -> int | None:
    """Fire ``schedule`` for ``tick``: the tick's row and its run in one transaction. None when
    another peer fired this tick already; 0 when the tick fired without a run (``event`` None:
    the task could not start; or the task was busy): the tick is consumed either way, so it is
    not fired again later."""  # fmt: skip
    try:
        async with db.write() as conn:
            await conn.execute(
                insert(schedule_ticks).values(schedule=schedule, tick=tick, fired_at=now, fired_by=worker)
            )
            if event is None:
                return 0
            try:
                await _admit(conn, db.is_sqlite, name, concurrency, cluster_cap)  # reads only
            except BusyError:
                return 0
            event_id = await insert_event(conn, event)
            run_id = int((await conn.execute(select(runs.c.id).where(runs.c.event_id == event_id))).scalar_one())
            await conn.execute(
                update(schedule_ticks)
                .where(schedule_ticks.c.schedule == schedule, schedule_ticks.c.tick == tick)
                .values(run_id=run_id)
            )
            return run_id
    except IntegrityError:
        return None


async def last_tick(db: Database, schedule: str) -> tuple[int, int | None] | None:
    """The latest fired tick of ``schedule`` and its run id."""
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(schedule_ticks.c.tick, schedule_ticks.c.run_id)
                .where(schedule_ticks.c.schedule == schedule)
                .order_by(schedule_ticks.c.tick.desc())
                .limit(1)
            )
        ).first()
    return (int(row._mapping["tick"]), row._mapping["run_id"]) if row else None


async def ticks(db: Database, schedule: str) -> list[tuple[int, int | None, str]]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(schedule_ticks.c.tick, schedule_ticks.c.run_id, schedule_ticks.c.fired_by)
            .where(schedule_ticks.c.schedule == schedule)
            .order_by(schedule_ticks.c.tick)
        )
        return [(int(r._mapping["tick"]), r._mapping["run_id"], str(r._mapping["fired_by"])) for r in rows]


async def db_now_us(db: Database, fallback: int) -> int:
    """The catalog server's clock on PostgreSQL (one clock for every peer); ``fallback`` on SQLite."""
    if db.is_sqlite:
        return fallback
    async with db.read() as conn:
        value = (await conn.execute(text("SELECT (extract(epoch from clock_timestamp()) * 1000000)::bigint"))).scalar()
    return int(value or fallback)


async def set_steps(db: Database, run_id: int, steps: list[dict[str, object]]) -> None:
    async with db.write() as conn:
        await conn.execute(update(runs).where(runs.c.id == run_id).values(steps=json.dumps(steps)))


async def set_version(db: Database, run_id: int, version: int) -> None:
    async with db.write() as conn:
        await conn.execute(update(runs).where(runs.c.id == run_id).values(task_version=version))


async def purge(db: Database, before: int) -> int:
    """Delete task runs that ended before ``before`` (and the events that triggered them)."""
    async with db.write() as conn:
        old = select(runs.c.id, runs.c.event_id).where(
            runs.c.kind == TASK_KIND, runs.c.status.not_in(ACTIVE), runs.c.finished_at < before
        )
        rows = (await conn.execute(old)).all()
        if not rows:
            return 0
        await conn.execute(delete(runs).where(runs.c.id.in_([r._mapping["id"] for r in rows])))
        await conn.execute(
            delete(events).where(events.c.id.in_([r._mapping["event_id"] for r in rows]), events.c.type == TASK_KIND)
        )
        return len(rows)


async def usage(db: Database, since: int, until: int) -> dict[str, int]:
    """Counters of the period [since, until): task runs started, files and bytes in (uploads,
    pulls, routed copies) and out (downloads)."""
    async with db.read() as conn:
        executions = (
            await conn.execute(
                select(func.count())
                .select_from(runs)
                .where(runs.c.kind == TASK_KIND, runs.c.created_at >= since, runs.c.created_at < until)
            )
        ).scalar_one()
        moved = await conn.execute(
            select(
                events.c.type.label("type"),
                func.count().label("files"),
                func.coalesce(func.sum(events.c.size), 0).label("bytes"),
            )
            .where(events.c.type.in_(("upload", "download")), events.c.time >= since, events.c.time < until)
            .group_by(events.c.type)
        )
        by_type = {r._mapping["type"]: (int(r._mapping["files"]), int(r._mapping["bytes"])) for r in moved}
    files_in, bytes_in = by_type.get("upload", (0, 0))
    files_out, bytes_out = by_type.get("download", (0, 0))
    return {
        "taskExecutions": int(executions),
        "filesIn": files_in,
        "bytesIn": bytes_in,
        "filesOut": files_out,
        "bytesOut": bytes_out,
    }
