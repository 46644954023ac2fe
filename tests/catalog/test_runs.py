from __future__ import annotations

import asyncio

import pytest

from gateway.catalog import runs
from gateway.catalog.db import Database
from gateway.catalog.records import NewEvent, NewRun

pytestmark = pytest.mark.anyio
LEASE = 60_000_000


def _event(path: str, *new_runs: NewRun, fileset: int | None = None) -> NewEvent:
    return NewEvent(type="upload", time=1_000, actor="A", user="u", vfs="v", path=path, fileset=fileset, runs=new_runs)


def _run(action: str = "hook", key: str = "c\x1fv:/inbox/a", attempts: int = 3) -> NewRun:
    return NewRun(contract="c", action=action, kind="webhook", max_attempts=attempts, ordering_key=key)


async def test_claim_due_marks_in_progress_with_event(db: Database) -> None:
    [run_id] = await runs.create_manual(db, _event("/inbox/a", _run(), fileset=7))
    [claimed] = await runs.claim_due(db, "w1", 2_000, LEASE, 10)
    assert claimed.run.id == run_id and claimed.run.status == "InProgress" and claimed.run.attempts == 1
    assert claimed.run.claimed_by == "w1" and claimed.event.path == "/inbox/a" and claimed.event.fileset == 7
    assert await runs.claim_due(db, "w2", 2_000, LEASE, 10) == []


async def test_claim_due_same_ordering_key_waits_for_earlier_run(db: Database) -> None:
    await runs.create_manual(db, _event("/inbox/a", _run("first")))
    await runs.create_manual(db, _event("/inbox/a", _run("second")))
    await runs.create_manual(db, _event("/inbox/b", _run("other", key="c\x1fv:/inbox/b")))
    claimed = await runs.claim_due(db, "w1", 2_000, LEASE, 10)
    assert [c.run.action for c in claimed] == ["first", "other"]
    await runs.finish(db, claimed[0].run, "Finished", 3_000)
    [later] = await runs.claim_due(db, "w1", 3_000, LEASE, 10)
    assert later.run.action == "second"


async def test_claim_due_not_before_next_attempt(db: Database) -> None:
    await runs.create_manual(db, _event("/inbox/a", _run()))
    [claimed] = await runs.claim_due(db, "w1", 2_000, LEASE, 10)
    await runs.reschedule(db, claimed.run, 2_500, 10_000, "out", "HTTP 500")
    assert await runs.claim_due(db, "w1", 9_999, LEASE, 10) == []
    [again] = await runs.claim_due(db, "w1", 10_000, LEASE, 10)
    assert again.run.attempts == 2 and again.run.last_error == "HTTP 500"
    assert [h["outcome"] for h in again.run.history] == ["Retry"]


async def test_claim_due_concurrent_claimers_never_share_a_run(db: Database) -> None:
    for i in range(40):
        await runs.create_manual(db, _event(f"/inbox/{i}", _run(key=f"k{i}")))

    async def claim_all(worker: str) -> list[int]:
        got: list[int] = []
        while batch := await runs.claim_due(db, worker, 2_000, LEASE, 3):
            got.extend(c.run.id for c in batch)
        return got

    results = await asyncio.gather(*(claim_all(f"w{i}") for i in range(4)))
    everything = [run_id for r in results for run_id in r]
    assert len(everything) == 40 and len(set(everything)) == 40


async def test_release_stale_requeues_expired_lease_and_dead_worker(db: Database) -> None:
    await runs.create_manual(db, _event("/a", _run(key="a")))
    await runs.create_manual(db, _event("/b", _run(key="b")))
    first = await runs.claim_due(db, "w-old", 1_000, 100, 1)
    second = await runs.claim_due(db, "w-dead", 1_000, LEASE, 1)
    assert first and second
    assert await runs.release_stale(db, 5_000) == 1  # w-old's lease ran out
    assert await runs.release_stale(db, 5_000, ["w-dead"]) == 1
    assert len(await runs.claim_due(db, "w-new", 6_000, LEASE, 10)) == 2


async def test_request_abort_queued_cancels_and_running_flags(db: Database) -> None:
    [queued_id] = await runs.create_manual(db, _event("/a", _run(key="a")))
    [running_id] = await runs.create_manual(db, _event("/b", _run(key="b")))
    await runs.claim_due(db, "w", 1_000, LEASE, 10)
    # both were claimed; queue another to cancel while queued
    [fresh_id] = await runs.create_manual(db, _event("/c", _run(key="c")))
    assert await runs.request_abort(db, fresh_id, 2_000) == "Canceled"
    assert await runs.request_abort(db, running_id, 2_000) == "InProgress"
    assert await runs.abort_requested(db, [queued_id, running_id]) == {running_id}
    done = await runs.get(db, fresh_id)
    assert done is not None and done.run.status == "Canceled"
    assert await runs.request_abort(db, fresh_id, 2_000) is None


async def test_retry_failed_run_gets_fresh_attempts(db: Database) -> None:
    [run_id] = await runs.create_manual(db, _event("/a", _run(attempts=1)))
    [claimed] = await runs.claim_due(db, "w", 1_000, LEASE, 1)
    await runs.finish(db, claimed.run, "Failed", 2_000, error="boom", dead=True)
    total, dead = await runs.search(db, status="Failed", dead=True)
    assert total == 1 and dead[0].id == run_id and dead[0].dead
    assert await runs.retry(db, run_id, 3_000)
    assert not await runs.retry(db, run_id, 3_000)  # only Failed or Canceled runs
    [again] = await runs.claim_due(db, "w", 3_000, LEASE, 1)
    assert again.run.attempts == 1 and not again.run.dead


async def test_search_filters_and_pages_newest_first(db: Database) -> None:
    for i in range(5):
        await runs.create_manual(db, _event(f"/{i}", _run(key=str(i)), fileset=100 + i))
    total, page = await runs.search(db, contract="c", limit=2, offset=1)
    assert total == 5 and [r.fileset for r in page] == [103, 102]
    total, only = await runs.search(db, fileset=101)
    assert total == 1 and only[0].fileset == 101
