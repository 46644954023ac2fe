"""Rate-limit counts shared by peers (``http/ratelimit.py`` owns the policy).

Each peer keeps its counts in memory and, about once a second, replaces its rows here with its
counts for the current minute, then reads the sum of every other peer's: a request never waits
for the catalog, and N peers admit at most the limit plus what the others admitted in the last
second before this peer saw it. The table is disposable (UNLOGGED on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, func, insert, select

from gateway.catalog.db import Database
from gateway.catalog.models import rate_counts as table

Counts = dict[tuple[str, str], int]  # (key, tier) -> requests in the minute


async def publish(db: Database, peer: str, minute: int, counts: Mapping[tuple[str, str], int]) -> None:
    """Replace ``peer``'s rows with its ``counts`` for ``minute`` (older minutes go with them)."""
    async with db.write() as conn:
        await conn.execute(delete(table).where(table.c.peer == peer))
        if counts:
            rows = [{"peer": peer, "key": k, "tier": t, "minute": minute, "count": n} for (k, t), n in counts.items()]
            await conn.execute(insert(table), rows)


async def others(db: Database, peer: str, minute: int) -> Counts:
    """What every peer but ``peer`` counted in ``minute``, summed per (key, tier)."""
    async with db.read() as conn:
        rows = await conn.execute(
            select(table.c.key, table.c.tier, func.sum(table.c.count).label("total"))
            .where(table.c.minute == minute, table.c.peer != peer)
            .group_by(table.c.key, table.c.tier)
        )
        return {(str(row.key), str(row.tier)): int(row.total) for row in rows}


async def purge(db: Database, before_minute: int) -> None:
    """Drop rows of past minutes (peers that stopped or crashed leave theirs behind)."""
    async with db.write() as conn:
        await conn.execute(delete(table).where(table.c.minute < before_minute))
