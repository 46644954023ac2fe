"""Task versions, admission (concurrency, cluster cap), one run per schedule tick, retention and
migration 0007_i12, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect, select, update

from gateway.catalog import tasks
from gateway.catalog.db import Database, now_us
from gateway.catalog.models import runs
from gateway.catalog.records import NewEvent, NewRun
from gateway.errors import BusyError

pytestmark = pytest.mark.anyio


def _event(name: str) -> NewEvent:
    key = f"task\x1f{name}\x1f{now_us()}"
    run = NewRun(contract="", action=name, kind="task", max_attempts=1, ordering_key=key, task_version=1, trigger="api")
    return NewEvent(type="task", time=now_us(), actor="", user="u", vfs="", path="", runs=(run,))


async def test_a_changed_definition_is_a_new_version_an_equal_one_is_not(db: Database) -> None:
    first = await tasks.save(db, "t", '{"steps":[1]}', "src", "config", now_us())
    again = await tasks.save(db, "t", '{"steps":[1]}', "src", "config", now_us())
    changed = await tasks.save(db, "t", '{"steps":[2]}', "src2", "api", now_us())
    assert (first.version, again.version, changed.version) == (1, 1, 2)
    assert (await tasks.latest(db, "t")) == changed and (await tasks.get(db, "t", 1)) == first
    assert [v.version for v in await tasks.names(db)] == [2]


async def test_two_peers_saving_the_same_definition_get_one_version(db: Database) -> None:
    saved = await asyncio.gather(*(tasks.save(db, "same", '{"a":1}', "", "config", now_us()) for _ in range(4)))
    assert {s.version for s in saved} == {1}


async def test_concurrency_and_the_cluster_cap_refuse_beyond_the_limit(db: Database) -> None:
    ids = [await tasks.insert_run(db, _event("one"), "one", concurrency=2, cluster_cap=3) for _ in range(2)]
    with pytest.raises(BusyError, match="already has 2 run"):
        await tasks.insert_run(db, _event("one"), "one", concurrency=2, cluster_cap=3)
    await tasks.insert_run(db, _event("other"), "other", concurrency=None, cluster_cap=3)
    with pytest.raises(BusyError, match="3 task runs"):
        await tasks.insert_run(db, _event("third"), "third", concurrency=None, cluster_cap=3)
    async with db.write() as conn:
        await conn.execute(update(runs).where(runs.c.id == ids[0]).values(status="Finished", finished_at=now_us()))
    assert await tasks.insert_run(db, _event("one"), "one", concurrency=2, cluster_cap=3) > ids[1]


async def test_a_tick_fires_once_whoever_inserts_it(db: Database) -> None:
    tick = 1_800_000_000_000_000
    results = await asyncio.gather(
        *(
            tasks.insert_tick_run(db, "s/0", tick, now_us(), f"w{i}", _event("sched"), "sched", None, 10)
            for i in range(3)
        )
    )
    assert sorted(r is None for r in results) == [False, True, True]
    assert await tasks.insert_tick_run(db, "s/0", tick + 60_000_000, now_us(), "w", None, "sched", None, 10) == 0
    assert [(t, bool(r)) for t, r, _ in await tasks.ticks(db, "s/0")] == [(tick, True), (tick + 60_000_000, False)]
    assert await tasks.last_tick(db, "s/0") == (tick + 60_000_000, None)


async def test_retention_deletes_ended_task_runs_only(db: Database) -> None:
    old = await tasks.insert_run(db, _event("r"), "r", None, 100)
    live = await tasks.insert_run(db, _event("r"), "r", None, 100)
    async with db.write() as conn:
        await conn.execute(update(runs).where(runs.c.id == old).values(status="Failed", finished_at=1))
    assert await tasks.purge(db, now_us()) == 1
    async with db.read() as conn:
        left = [r[0] for r in await conn.execute(select(runs.c.id))]
    assert left == [live]


async def test_migration_0007_downgrades_and_upgrades_again(db: Database) -> None:
    from tests.catalog.test_files import _run_alembic

    async def tables() -> set[str]:
        if db.async_engine is not None:
            async with db.async_engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        return set(inspect(db.sync_engine).get_table_names())

    assert {"task_versions", "schedule_ticks"} <= await tables()
    await _run_alembic(db, "downgrade", "0006_i11c")
    assert not {"task_versions", "schedule_ticks"} & await tables()
    await _run_alembic(db, "upgrade", "head")
    assert (await tasks.save(db, "m", "{}", "", "api", now_us())).version == 1


async def test_the_executing_worker_renews_its_leases_and_only_its_own(db: Database) -> None:
    from gateway.catalog import runs as run_catalog

    run_id = await tasks.insert_run(db, _event("lease"), "lease", None, 100)
    now = now_us()
    (claimed,) = await run_catalog.claim_due(db, "w1", now, 60_000_000, 10)
    assert claimed.run.id == run_id
    await run_catalog.renew_leases(db, "w2", [run_id], now + 999_000_000)  # not w2's run
    await run_catalog.renew_leases(db, "w1", [run_id], now + 3_600_000_000)
    assert await run_catalog.release_stale(db, now + 120_000_000) == 0  # the first lease alone would have run out
    async with db.read() as conn:
        lease = (await conn.execute(select(runs.c.lease_until).where(runs.c.id == run_id))).scalar_one()
    assert lease == now + 3_600_000_000
