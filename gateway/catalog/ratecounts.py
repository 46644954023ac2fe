"""Rate-limit counts shared by peers (``http/ratelimit.py`` owns the policy).

Each peer keeps its counts in memory and, about once a second, replaces its rows here with its
counts for the current minute, then reads the sum of every other peer's: a request never waits
for the catalog, and N peers admit at most the limit plus what the others admitted in the last
second before this peer saw it. The table is disposable (UNLOGGED on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import bindparam, delete, func, insert, select

from gateway.catalog.db import Database, Prepared
from gateway.catalog.models import rate_counts as table

Counts = dict[tuple[str, str], int]  # (key, tier) -> requests in the minute


async def publish(db: Database, peer: str, minute: int, counts: Mapping[tuple[str, str], int]) -> None:
    """Replace ``peer``'s rows with its ``counts`` for ``minute`` (older minutes go with them)."""
    async with db.write() as conn:
        await conn.run(_DELETE_MINE, {"b_peer": peer})
        for (key, tier), n in counts.items():
            await conn.run(_INSERT, {"peer": peer, "key": key, "tier": tier, "minute": minute, "count": n})


_OTHERS = Prepared(
    select(table.c.key, table.c.tier, func.sum(table.c.count))
    .where(table.c.minute == bindparam("b_minute"), table.c.peer != bindparam("b_peer"))
    .group_by(table.c.key, table.c.tier)
)
_DELETE_MINE = Prepared(delete(table).where(table.c.peer == bindparam("b_peer")))
_INSERT = Prepared(insert(table), columns=("peer", "key", "tier", "minute", "count"))


async def others(db: Database, peer: str, minute: int) -> Counts:
    """What every peer but ``peer`` counted in ``minute``, summed per (key, tier)."""
    rows = await db.rows(_OTHERS, {"b_minute": minute, "b_peer": peer})
    return {(str(key), str(tier)): int(total) for key, tier, total in rows}


async def purge(db: Database, before_minute: int) -> None:
    """Drop rows of past minutes (peers that stopped or crashed leave theirs behind)."""
    async with db.write() as conn:
        await conn.execute(delete(table).where(table.c.minute < before_minute))
