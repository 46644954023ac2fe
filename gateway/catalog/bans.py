"""The defender's shared state: failure scores and bans (``core/defender.py`` owns the policy).

Keys name what is scored or banned: ``addr:<ip>`` or ``acct:<account name>``. Times are catalog
microseconds. Writing happens only on failed credential checks (which already cost a password
hash) and on bans; the hot read, :func:`active`, is one indexed query a second per peer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.catalog.db import Database, Prepared
from gateway.catalog.models import defender_bans as bans, defender_events as events


@dataclass(frozen=True, slots=True)
class Ban:
    key: str
    banned_at: int
    until: int
    score: int


_ACTIVE = Prepared(
    select(bans.c.key, bans.c.banned_at, bans.c.until, bans.c.score)
    .where(bans.c.until > bindparam("b_now"))
    .order_by(bans.c.banned_at, bans.c.key)
)


async def active(db: Database, now: int) -> list[Ban]:
    """Every ban still in force at ``now`` (every peer reads this each second: a prepared read)."""
    return [
        Ban(str(key), int(at), int(until), int(points))
        for key, at, until, points in await db.rows(_ACTIVE, {"b_now": now})
    ]


async def score(db: Database, entries: Sequence[tuple[str, int]], now: int, since: int) -> dict[str, int]:
    """Record one failure's ``(key, score)`` entries; each key's total since ``since``, this one included."""
    keys = [key for key, _ in entries]
    async with db.write() as conn:
        await conn.execute(insert(events), [{"key": key, "at": now, "score": points} for key, points in entries])
        rows = await conn.execute(
            select(events.c.key, func.sum(events.c.score).label("total"))
            .where(events.c.key.in_(keys), events.c.at > since)
            .group_by(events.c.key)
        )
        return {str(row.key): int(row.total) for row in rows}


async def ban(db: Database, key: str, now: int, until: int, points: int) -> bool:
    """Ban ``key`` until ``until``; True when this starts a ban (none was in force), False when it
    only lengthens one that another check or peer made first."""
    try:
        return await _ban(db, key, now, until, points)
    except IntegrityError:
        return False  # another peer inserted the same ban a moment ago


async def _ban(db: Database, key: str, now: int, until: int, points: int) -> bool:
    async with db.write() as conn:
        restarted = await conn.execute(
            update(bans).where(bans.c.key == key, bans.c.until <= now).values(banned_at=now, until=until, score=points)
        )
        if restarted.rowcount:
            return True
        lengthened = await conn.execute(update(bans).where(bans.c.key == key, bans.c.until < until).values(until=until))
        if lengthened.rowcount:
            return False
        exists = (await conn.execute(select(bans.c.key).where(bans.c.key == key))).first()
        if exists is not None:
            return False
        await conn.execute(insert(bans).values(key=key, banned_at=now, until=until, score=points))
        return True


async def extend(db: Database, lengths: dict[str, int]) -> None:
    """Move bans' ends later (never earlier): ``key -> new end``."""
    async with db.write() as conn:
        for key, until in lengths.items():
            await conn.execute(update(bans).where(bans.c.key == key, bans.c.until < until).values(until=until))


async def lift(db: Database, key: str, now: int) -> Ban | None:
    """End ``key``'s ban and forget its scores (or the next failure would ban it again at once);
    the ban that was in force, or None if there was none."""
    async with db.write() as conn:
        row = (await conn.execute(select(bans).where(bans.c.key == key, bans.c.until > now))).first()
        await conn.execute(delete(bans).where(bans.c.key == key))
        await conn.execute(delete(events).where(events.c.key == key))
    return None if row is None else Ban(row.key, row.banned_at, row.until, row.score)


async def purge(db: Database, scores_before: int, bans_before: int) -> None:
    """Drop scores older than the observation window and bans that ended long ago."""
    async with db.write() as conn:
        await conn.execute(delete(events).where(events.c.at < scores_before))
        await conn.execute(delete(bans).where(bans.c.until < bans_before))
