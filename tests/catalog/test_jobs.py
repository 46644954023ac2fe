"""Job runs claimed by agents (catalog/jobs.py) on SQLite and PostgreSQL: one run per tick
even when claims race, a live lease refuses another claim, an expired one hands the same run
back, and migration 0010_i13b downgrades and upgrades again."""

from __future__ import annotations

import asyncio
from unittest.mock import AsyncMock

import pytest
from sqlalchemy import inspect

from gateway.catalog import jobs
from gateway.catalog.db import Database, now_us

pytestmark = pytest.mark.anyio

LEASE = 10_000_000


async def _job(db: Database, job_id: str = "job-1") -> None:
    now = now_us()
    await jobs.insert_job(
        db,
        {"id": job_id, "owner": "P", "agent_id": "agent-1", "name": "n", "source_path": "/a", "destination_path": "/b",
         "schedule": "* * * * *", "timezone": "UTC", "protocol": "sftp", "direction": "pull", "enabled": True,
         "created_at": now, "updated_at": now},
    )  # fmt: skip


async def test_racing_claims_of_one_tick_make_one_run(db: Database) -> None:
    await _job(db)
    now = now_us()
    results = await asyncio.gather(*(jobs.claim(db, "job-1", "agent-1", 60, None, now, LEASE) for _ in range(6)))
    outcomes = sorted(r.outcome for r in results)
    assert outcomes == ["busy"] * 5 + ["created"], outcomes
    total, found = await jobs.list_runs(db, "job-1", 10, 0)
    assert total == 1 and found[0].tick == 60


async def test_a_run_committed_between_the_two_looks_is_busy_not_done(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a racing claim can commit its run after this claim looked for unfinished
    runs and before it looks up the tick: that run is running, not a tick that ran."""
    await _job(db)
    now = now_us()
    first = await jobs.claim(db, "job-1", "agent-1", 60, None, now, LEASE)
    assert first.outcome == "created" and first.run is not None
    looked_too_early = AsyncMock(return_value=None)  # the first look, made before that commit
    monkeypatch.setattr(jobs, "_unfinished", looked_too_early)
    racing = await jobs.claim(db, "job-1", "agent-2", 60, None, now + 1, LEASE)
    assert looked_too_early.await_count == 1
    assert racing.outcome == "busy" and racing.run is not None and racing.run.id == first.run.id
    mine = await jobs.claim(db, "job-1", "agent-1", 60, first.run.id, now + 2, LEASE)
    assert mine.outcome == "resumed"


async def test_a_live_lease_refuses_an_expired_one_hands_the_same_run_back(db: Database) -> None:
    await _job(db)
    now = now_us()
    first = await jobs.claim(db, "job-1", "agent-1", 60, None, now, LEASE)
    assert first.outcome == "created" and first.run is not None
    named = await jobs.claim(db, "job-1", "agent-1", 60, first.run.id, now + 1, LEASE)
    assert named.outcome == "resumed" and named.run is not None and named.run.attempts == 1
    later = await jobs.claim(db, "job-1", "agent-1", 120, None, now + 2 * LEASE, LEASE)  # lease expired
    assert later.outcome == "resumed" and later.run is not None
    assert later.run.id == first.run.id and later.run.attempts == 2 and later.run.tick == 60
    ended = await jobs.update_run(db, first.run.id, {"status": "completed", "finished_at": now, "lease_until": None})
    assert ended is not None and ended.status == "completed"
    again = await jobs.claim(db, "job-1", "agent-1", 60, None, now + 3 * LEASE, LEASE)
    assert again.outcome == "done"
    assert (await jobs.claim(db, "job-1", "agent-1", None, None, now + 3 * LEASE, LEASE)).outcome == "none"
    fresh = await jobs.claim(db, "job-1", "agent-1", 120, None, now + 3 * LEASE, LEASE)
    assert fresh.outcome == "created" and fresh.run is not None and fresh.run.id != first.run.id


async def test_heartbeat_renews_only_live_leases_of_its_agent(db: Database) -> None:
    await _job(db)
    now = now_us()
    run = (await jobs.claim(db, "job-1", "agent-1", 60, None, now, LEASE)).run
    assert run is not None
    assert await jobs.renew_agent_leases(db, "agent-2", now + 1, LEASE) == 0
    assert await jobs.renew_agent_leases(db, "agent-1", now + 5, LEASE) == 1
    assert (await jobs.get_run(db, run.id)).lease_until == now + 5 + LEASE  # type: ignore[union-attr]
    assert await jobs.renew_agent_leases(db, "agent-1", now + 5 + 2 * LEASE, LEASE) == 0  # expired: handed back


async def test_migration_0010_downgrades_and_upgrades_again(db: Database) -> None:
    from tests.catalog.test_files import _run_alembic

    async def tables() -> set[str]:
        if db.async_engine is not None:
            async with db.async_engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        return set(inspect(db.sync_engine).get_table_names())

    mine = {"api_jobs", "api_job_runs", "pipelines", "pipeline_versions"}
    assert mine <= await tables()
    await _run_alembic(db, "downgrade", "0009_i13a")
    assert not mine & await tables()
    await _run_alembic(db, "upgrade", "head")
    await _job(db)
