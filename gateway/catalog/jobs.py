"""Seed 001's jobs and the runs agents claim: rows of ``api_jobs`` and ``api_job_runs``.

A claim is one write transaction: it reads the job's unfinished run (any tick) and either hands
it back (resume) or inserts the run of the due tick. The unique ``(job_id, tick)`` key is what
keeps a tick to one run when two claims race (the loser's insert fails and it reads the
winner's row).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.catalog.db import CatalogConnection, Database
from gateway.catalog.models import api_job_runs, api_jobs

ENDED = ("completed", "failed", "canceled")


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    owner: str
    agent_id: str | None
    name: str
    source_path: str
    destination_path: str
    schedule: str
    timezone: str
    protocol: str
    direction: str
    enabled: bool
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class JobRunRecord:
    id: str
    job_id: str
    tick: int
    agent_id: str
    status: str
    attempts: int
    lease_until: int | None
    started_at: int
    updated_at: int
    finished_at: int | None
    bytes: int
    files: int
    error: str


def _job(row: Any) -> JobRecord:
    m = row._mapping
    return JobRecord(**{k: m[k] for k in JobRecord.__slots__})


def _run(row: Any) -> JobRunRecord:
    m = row._mapping
    return JobRunRecord(**{k: m[k] for k in JobRunRecord.__slots__})


async def insert_job(db: Database, values: dict[str, Any]) -> JobRecord:
    async with db.write() as conn:
        await conn.execute(insert(api_jobs).values(**values))
        row = (await conn.execute(select(api_jobs).where(api_jobs.c.id == values["id"]))).one()
    return _job(row)


async def get_job(db: Database, job_id: str) -> JobRecord | None:
    async with db.read() as conn:
        row = (await conn.execute(select(api_jobs).where(api_jobs.c.id == job_id))).first()
    return _job(row) if row else None


async def list_jobs(
    db: Database,
    owner: str | None,
    agent_id: str | None,
    enabled: bool | None,
    limit: int,
    offset: int,
) -> tuple[int, list[JobRecord]]:
    """Jobs matching the filters (``owner`` None: every owner), oldest first, with the total."""
    clauses = []
    if owner is not None:
        clauses.append(api_jobs.c.owner == owner)
    if agent_id is not None:
        clauses.append(api_jobs.c.agent_id == agent_id)
    if enabled is not None:
        clauses.append(api_jobs.c.enabled == enabled)
    async with db.read() as conn:
        total = (await conn.execute(select(func.count()).select_from(api_jobs).where(*clauses))).scalar_one()
        rows = await conn.execute(
            select(api_jobs).where(*clauses).order_by(api_jobs.c.created_at, api_jobs.c.id).limit(limit).offset(offset)
        )
        return int(total), [_job(r) for r in rows]


async def gateway_jobs(db: Database) -> list[JobRecord]:
    """Enabled jobs without an agent: the scheduler fires their ticks as task runs."""
    async with db.read() as conn:
        rows = await conn.execute(
            select(api_jobs).where(api_jobs.c.agent_id.is_(None), api_jobs.c.enabled.is_(True)).order_by(api_jobs.c.id)
        )
        return [_job(r) for r in rows]


async def update_job(db: Database, job_id: str, values: dict[str, Any]) -> JobRecord | None:
    async with db.write() as conn:
        await conn.execute(update(api_jobs).where(api_jobs.c.id == job_id).values(**values))
        row = (await conn.execute(select(api_jobs).where(api_jobs.c.id == job_id))).first()
    return _job(row) if row else None


async def delete_job(db: Database, job_id: str) -> bool:
    async with db.write() as conn:
        await conn.execute(delete(api_job_runs).where(api_job_runs.c.job_id == job_id))
        done = await conn.execute(delete(api_jobs).where(api_jobs.c.id == job_id))
    return bool(done.rowcount)


async def _unfinished(conn: CatalogConnection, job_id: str) -> JobRunRecord | None:
    row = (
        await conn.execute(
            select(api_job_runs)
            .where(api_job_runs.c.job_id == job_id, api_job_runs.c.status.not_in(ENDED))
            .order_by(api_job_runs.c.tick.desc())
            .limit(1)
        )
    ).first()
    return _run(row) if row else None


@dataclass(frozen=True, slots=True)
class Claim:
    run: JobRunRecord | None
    outcome: str  # "created" | "resumed" | "busy" (a live lease, not yours) | "done" (the tick ran) | "none"


async def claim(
    db: Database, job_id: str, agent_id: str, tick: int | None, resume_id: str | None, now: int, lease_us: int
) -> Claim:
    """The run an agent may work on now: its unfinished run (resumed when its lease expired or
    the agent names it), else a new run of ``tick`` (None: no tick is due); ``busy``, ``done``
    and ``none`` say why there is none."""
    for _ in range(3):
        try:
            async with db.write() as conn:
                return await _claim(conn, job_id, agent_id, tick, resume_id, now, lease_us)
        except IntegrityError:
            continue  # another claim inserted this tick's run first: read it on the next pass
    raise RuntimeError("claim kept colliding")  # pragma: no cover - three races in a row


async def _claim(
    conn: CatalogConnection,
    job_id: str,
    agent_id: str,
    tick: int | None,
    resume_id: str | None,
    now: int,
    lease_us: int,
) -> Claim:
    current = await _unfinished(conn, job_id)
    if current is not None:
        return await _take(conn, current, agent_id, resume_id, now, lease_us)
    if tick is None:
        return Claim(None, "none")
    row = (
        await conn.execute(select(api_job_runs).where(api_job_runs.c.job_id == job_id, api_job_runs.c.tick == tick))
    ).first()
    if row is not None:
        found = _run(row)
        if found.status not in ENDED:
            # A racing claim's run, committed after _unfinished looked (on PostgreSQL each
            # statement sees what is committed when it starts): running, not a finished tick.
            return await _take(conn, found, agent_id, resume_id, now, lease_us)
        return Claim(found, "done")
    run_id = str(uuid.uuid4())
    await conn.execute(
        insert(api_job_runs).values(
            id=run_id, job_id=job_id, tick=tick, agent_id=agent_id, status="running", attempts=1,
            lease_until=now + lease_us, started_at=now, updated_at=now,
        )
    )  # fmt: skip
    created = (await conn.execute(select(api_job_runs).where(api_job_runs.c.id == run_id))).one()
    return Claim(_run(created), "created")


async def _take(
    conn: CatalogConnection, run: JobRunRecord, agent_id: str, resume_id: str | None, now: int, lease_us: int
) -> Claim:
    """An unfinished run: ``busy`` while another holder's lease is live, else resumed by this agent."""
    live = run.lease_until is not None and run.lease_until > now
    if live and resume_id != run.id:
        return Claim(run, "busy")
    return Claim(await _renew(conn, run, agent_id, now, lease_us, not live), "resumed")


async def _renew(
    conn: CatalogConnection, run: JobRunRecord, agent_id: str, now: int, lease_us: int, new_attempt: bool
) -> JobRunRecord:
    values: dict[str, Any] = {"lease_until": now + lease_us, "updated_at": now, "agent_id": agent_id}
    if new_attempt:
        values["attempts"] = api_job_runs.c.attempts + 1
    await conn.execute(update(api_job_runs).where(api_job_runs.c.id == run.id).values(**values))
    return _run((await conn.execute(select(api_job_runs).where(api_job_runs.c.id == run.id))).one())


async def get_run(db: Database, run_id: str) -> JobRunRecord | None:
    async with db.read() as conn:
        row = (await conn.execute(select(api_job_runs).where(api_job_runs.c.id == run_id))).first()
    return _run(row) if row else None


async def update_run(db: Database, run_id: str, values: dict[str, Any]) -> JobRunRecord | None:
    """Change a run that has not ended (an ended run is returned unchanged)."""
    async with db.write() as conn:
        await conn.execute(
            update(api_job_runs)
            .where(api_job_runs.c.id == run_id, api_job_runs.c.status.not_in(ENDED))
            .values(**values)
        )
        row = (await conn.execute(select(api_job_runs).where(api_job_runs.c.id == run_id))).first()
    return _run(row) if row else None


async def renew_agent_leases(db: Database, agent_id: str, now: int, lease_us: int) -> int:
    """An agent's heartbeat keeps every run it holds (a live lease) alive."""
    async with db.write() as conn:
        done = await conn.execute(
            update(api_job_runs)
            .where(
                api_job_runs.c.agent_id == agent_id,
                api_job_runs.c.status.not_in(ENDED),
                api_job_runs.c.lease_until > now,
            )
            .values(lease_until=now + lease_us, updated_at=now)
        )
    return int(done.rowcount or 0)


async def list_runs(db: Database, job_id: str, limit: int, offset: int) -> tuple[int, list[JobRunRecord]]:
    clause = api_job_runs.c.job_id == job_id
    async with db.read() as conn:
        total = (await conn.execute(select(func.count()).select_from(api_job_runs).where(clause))).scalar_one()
        rows = await conn.execute(
            select(api_job_runs).where(clause).order_by(api_job_runs.c.tick.desc()).limit(limit).offset(offset)
        )
        return int(total), [_run(r) for r in rows]
