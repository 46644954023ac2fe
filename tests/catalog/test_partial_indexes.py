"""Migration 0011: the expiry sweeper's and the agent transfer list's indexes hold only rows that
have the column set, still answer their queries (by index, on SQLite), the unused events index
is gone, and all of it migrates both ways."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from gateway.catalog import files, transfers
from gateway.catalog.db import Database
from gateway.catalog.transfers import TransferFilter
from gateway.core import transfer_log
from tests.catalog.test_files import _event, _new, _run_alembic

pytestmark = pytest.mark.anyio

_INDEXES = {"ix_files_expiry_due": "expiry_date", "ix_transfers_agent": "agent_id"}


async def _definitions(db: Database) -> dict[str, str]:
    """Each index's SQL as the catalog itself keeps it."""
    names = (*_INDEXES, "ix_events_fileset")
    if db.async_engine is not None:
        query = sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN :n").bindparams(
            sa.bindparam("n", expanding=True)
        )
        async with db.async_engine.connect() as conn:
            return {r[0]: r[1] for r in await conn.execute(query, {"n": list(names)})}
    query = sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name IN :n").bindparams(
        sa.bindparam("n", expanding=True)
    )
    with db.sync_engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(query, {"n": list(names)})}


def _partial(definitions: dict[str, str]) -> dict[str, bool]:
    return {name: f"{column} IS NOT NULL" in definitions[name].replace("(", "").replace(")", "")
            for name, column in _INDEXES.items()}  # fmt: skip


async def _transfer(db: Database, agent: str | None, name: str) -> None:
    tracker = transfer_log.begin(db, direction="upload", protocol="http", source="http://127.0.0.1",
                                 destination=f"v:/{name}", partner="P", owner="u", agent_id=agent)  # fmt: skip
    tracker.add(1)
    tracker.finish("completed")


async def test_the_indexes_are_partial_and_migrate_both_ways(db: Database) -> None:
    now = await _definitions(db)
    assert (_partial(now), "ix_events_fileset" in now) == ({name: True for name in _INDEXES}, False)
    await _run_alembic(db, "downgrade", "0010_i13b")
    before = await _definitions(db)
    assert (_partial(before), "ix_events_fileset" in before) == ({name: False for name in _INDEXES}, True)
    await _run_alembic(db, "upgrade", "head")
    assert await _definitions(db) == now


async def test_the_sweeper_finds_expired_files_among_files_without_expiry(db: Database) -> None:
    for i in range(20):
        await files.put_file(db, _new(f"keep{i}"), {}, _event())
    await files.put_file(db, dataclasses.replace(_new("late"), expiry_date=900), {}, _event())
    await files.put_file(db, dataclasses.replace(_new("early"), expiry_date=100), {}, _event())
    await files.put_file(db, dataclasses.replace(_new("future"), expiry_date=5_000), {}, _event())
    due = await files.due_for_expiry(db, now=1_000, limit=10)
    assert [r.name for r in due] == ["early", "late"]


async def test_an_agents_transfers_are_listed_among_partner_transfers(db: Database) -> None:
    for i in range(5):
        await _transfer(db, None, f"p{i}")
    await _transfer(db, "agent-1", "a0")
    await _transfer(db, "agent-2", "b0")
    await transfer_log.flush(db)
    rows, total = await transfers.page(db, TransferFilter(agent_id="agent-1"), 0, 10)
    assert (total, [r.destination for r in rows]) == (1, ["v:/a0"])
    assert (await transfers.page(db, TransferFilter(partner="P"), 0, 10))[1] == 7


async def test_the_sqlite_planner_uses_the_partial_indexes(db: Database) -> None:
    if db.async_engine is not None:
        pytest.skip("query plans are SQLite's; PostgreSQL's index definitions are checked above")
    plans = {}
    with db.sync_engine.connect() as conn:
        for name, sql in {
            "ix_files_expiry_due": "SELECT * FROM files WHERE expiry_date IS NOT NULL AND expiry_date <= 5 "
            "ORDER BY expiry_date LIMIT 10",
            "ix_transfers_agent": "SELECT * FROM transfers WHERE agent_id = 'a' ORDER BY started_at DESC",
        }.items():
            plans[name] = " ".join(str(r[-1]) for r in conn.execute(sa.text("EXPLAIN QUERY PLAN " + sql)))
    assert all(name in plan for name, plan in plans.items()), plans
