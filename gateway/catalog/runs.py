"""Runs of contract actions: claim, finish, retry, abort, list.

Claiming is the only contended operation. On PostgreSQL the due rows are locked with
``FOR UPDATE SKIP LOCKED``, so peers sharing the catalog each take different runs and none
waits on another; on SQLite the process's single writer does the same job. A run is never
claimed while an earlier run with the same ordering key is still queued or in progress, which
keeps one contract's work on one file in event order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, select, update

from gateway.catalog.db import Database
from gateway.catalog.files import insert_event
from gateway.catalog.models import events, runs
from gateway.catalog.records import EventRecord, NewEvent, RunRecord

ACTIVE = ("Queued", "InProgress")
STATUSES = ("Queued", "InProgress", "Finished", "Failed", "Canceled")
_MAX_TEXT = 65536
_DECODED = ("params", "history", "dead", "abort_requested", "manual", "steps")


@dataclass(frozen=True, slots=True)
class ClaimedRun:
    run: RunRecord
    event: EventRecord


def _run(row: Any) -> RunRecord:
    m = row._mapping
    return RunRecord(
        **{k: m[k] for k in RunRecord.__slots__ if k not in _DECODED},
        params=json.loads(m["params"]),
        steps=json.loads(m["steps"]),
        history=json.loads(m["history"]),
        dead=bool(m["dead"]),
        abort_requested=bool(m["abort_requested"]),
        manual=bool(m["manual"]),
    )


def _event(row: Any) -> EventRecord:
    m = row._mapping
    return EventRecord(
        id=m["ev_id"],
        type=m["ev_type"],
        time=m["ev_time"],
        actor=m["ev_actor"],
        user=m["ev_user_name"],
        protocol=m["ev_protocol"],
        contract=m["ev_contract"],
        vfs=m["ev_vfs"],
        path=m["ev_path"],
        fileset=m["ev_fileset"],
        size=m["ev_size"],
        sha256=m["ev_sha256"],
        client_address=m["ev_client_address"],
        metadata=json.loads(m["ev_metadata"]),
        chain=tuple(json.loads(m["ev_chain"])),
    )


_EVENT_COLUMNS = [c.label(f"ev_{c.name}") for c in events.c]


async def claim_due(db: Database, worker: str, now: int, lease_us: int, limit: int) -> list[ClaimedRun]:
    """Mark up to ``limit`` due runs InProgress for ``worker`` and return them with their events."""
    earlier = runs.alias()  # Core's alias, as orm.aliased() gives for a table (no ORM import)
    blocked = exists().where(
        and_(earlier.c.ordering_key == runs.c.ordering_key, earlier.c.id < runs.c.id, earlier.c.status.in_(ACTIVE))
    )
    due = (
        select(runs.c.id)
        .where(runs.c.status == "Queued", runs.c.next_attempt_at <= now, ~blocked)
        .order_by(runs.c.id)
        .limit(limit)
    )
    if not db.is_sqlite:
        due = due.with_for_update(skip_locked=True, of=runs)
    async with db.write() as conn:
        ids = [r[0] for r in await conn.execute(due)]
        if not ids:
            return []
        await conn.execute(
            update(runs)
            .where(runs.c.id.in_(ids), runs.c.status == "Queued")
            .values(
                status="InProgress",
                claimed_by=worker,
                lease_until=now + lease_us,
                attempts=runs.c.attempts + 1,
                started_at=now,
            )
        )
        rows = await conn.execute(
            select(runs, *_EVENT_COLUMNS).join(events, events.c.id == runs.c.event_id).where(runs.c.id.in_(ids))
        )
        claimed = [ClaimedRun(_run(r), _event(r)) for r in rows]
    return sorted(claimed, key=lambda c: c.run.id)


def _entry(run: RunRecord, now: int, outcome: str, error: str) -> str:
    entry: dict[str, object] = {"attempt": run.attempts, "started": run.started_at, "ended": now, "outcome": outcome}
    if error:
        entry["error"] = error[:2000]
    return json.dumps([*run.history, entry][-50:])


async def finish(
    db: Database, run: RunRecord, status: str, now: int, output: str = "", error: str = "", dead: bool = False
) -> None:
    """Record the end of the attempt ``run`` describes (Finished, Failed or Canceled)."""
    async with db.write() as conn:
        await conn.execute(
            update(runs)
            .where(runs.c.id == run.id)
            .values(
                status=status,
                dead=dead,
                finished_at=now,
                lease_until=None,
                abort_requested=False,
                output=output[-_MAX_TEXT:],
                last_error=error[:_MAX_TEXT],
                history=_entry(run, now, status, error),
            )
        )


async def reschedule(db: Database, run: RunRecord, now: int, next_at: int, output: str, error: str) -> None:
    """Queue the run again after a failed attempt."""
    async with db.write() as conn:
        await conn.execute(
            update(runs)
            .where(runs.c.id == run.id)
            .values(
                status="Queued",
                next_attempt_at=next_at,
                lease_until=None,
                claimed_by=None,
                output=output[-_MAX_TEXT:],
                last_error=error[:_MAX_TEXT],
                history=_entry(run, now, "Retry", error),
            )
        )


async def release_stale(db: Database, now: int, dead_workers: Sequence[str] = ()) -> int:
    """Requeue InProgress runs whose lease ran out or whose worker is known to be gone."""
    stale = runs.c.lease_until < now
    if dead_workers:
        stale = stale | runs.c.claimed_by.in_(list(dead_workers))
    async with db.write() as conn:
        result = await conn.execute(
            update(runs)
            .where(runs.c.status == "InProgress", stale)
            .values(status="Queued", lease_until=None, claimed_by=None, next_attempt_at=now)
        )
    return int(result.rowcount)


async def renew_leases(db: Database, worker: str, ids: Sequence[int], until: int) -> None:
    """Extend the lease of the runs ``worker`` is still executing."""
    if not ids:
        return
    async with db.write() as conn:
        await conn.execute(
            update(runs)
            .where(runs.c.id.in_(list(ids)), runs.c.claimed_by == worker, runs.c.status == "InProgress")
            .values(lease_until=until)
        )


async def workers_in_progress(db: Database) -> list[str]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(runs.c.claimed_by).where(runs.c.status == "InProgress", runs.c.claimed_by.is_not(None)).distinct()
        )
        return [r[0] for r in rows]


async def abort_requested(db: Database, ids: Sequence[int]) -> set[int]:
    if not ids:
        return set()
    async with db.read() as conn:
        rows = await conn.execute(select(runs.c.id).where(runs.c.id.in_(list(ids)), runs.c.abort_requested))
        return {r[0] for r in rows}


async def get(db: Database, run_id: int) -> ClaimedRun | None:
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(runs, *_EVENT_COLUMNS).join(events, events.c.id == runs.c.event_id).where(runs.c.id == run_id)
            )
        ).first()
    return ClaimedRun(_run(row), _event(row)) if row else None


async def request_abort(db: Database, run_id: int, now: int, reason: str = "") -> str | None:
    """Cancel a queued run now, or flag a running one for its worker to stop; returns the new
    status (``Canceled`` or ``InProgress``), or None if the run is missing or already over.
    ``reason`` (or a default) becomes the run's error once it is Canceled."""
    reason = reason[:2000]
    async with db.write() as conn:
        queued = await conn.execute(
            update(runs)
            .where(runs.c.id == run_id, runs.c.status == "Queued")
            .values(status="Canceled", finished_at=now, last_error=reason or "Canceled by an operator")
        )
        if queued.rowcount:
            return "Canceled"
        running = await conn.execute(
            update(runs)
            .where(runs.c.id == run_id, runs.c.status == "InProgress")
            .values(abort_requested=True, last_error=reason or "Aborted by an operator")
        )
        return "InProgress" if running.rowcount else None


async def abort_reason(db: Database, run_id: int) -> str:
    """Why an operator aborted ``run_id`` (stored by :func:`request_abort`)."""
    async with db.read() as conn:
        value = (await conn.execute(select(runs.c.last_error).where(runs.c.id == run_id))).scalar()
    return str(value or "Aborted by an operator")


async def retry(db: Database, run_id: int, now: int) -> bool:
    """Queue a Failed (dead or not) or Canceled run again with a fresh set of attempts."""
    async with db.write() as conn:
        result = await conn.execute(
            update(runs)
            .where(runs.c.id == run_id, runs.c.status.in_(("Failed", "Canceled")))
            .values(status="Queued", dead=False, attempts=0, next_attempt_at=now, abort_requested=False,
                    finished_at=None, claimed_by=None, lease_until=None)
        )  # fmt: skip
    return bool(result.rowcount)


async def create_manual(db: Database, event: NewEvent) -> list[int]:
    """Record a hand-started event and its runs; returns the run ids."""
    async with db.write() as conn:
        event_id = await insert_event(conn, event)
        rows = await conn.execute(select(runs.c.id).where(runs.c.event_id == event_id).order_by(runs.c.id))
        return [r[0] for r in rows]


async def search(
    db: Database,
    contract: str | None = None,
    status: str | None = None,
    fileset: int | None = None,
    dead: bool | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[RunRecord]]:
    """Runs matching the filters, newest first, with the total before paging."""
    clauses = []
    if contract is not None:
        clauses.append(runs.c.contract == contract)
    if status is not None:
        clauses.append(runs.c.status == status)
    if fileset is not None:
        clauses.append(runs.c.fileset == fileset)
    if dead is not None:
        clauses.append(runs.c.dead == dead)
    async with db.read() as conn:
        total = (await conn.execute(select(func.count()).select_from(runs).where(*clauses))).scalar_one()
        rows = await conn.execute(select(runs).where(*clauses).order_by(runs.c.id.desc()).limit(limit).offset(offset))
        return int(total), [_run(r) for r in rows]
