"""Agents and enrollment counts in the catalog (seed 001's agents; gateway/core/agents.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.catalog.db import Database
from gateway.catalog.models import agent_enrollments, agents


@dataclass(frozen=True, slots=True)
class AgentRecord:
    id: str
    name: str
    hostname: str
    os: str
    version: str
    owner: str
    partner: str
    api_key_id: str
    enrollment: str | None
    enabled: bool
    reported_status: str
    load: str | None
    memory: str | None
    created_at: int
    last_seen: int | None
    disabled_at: int | None


_NAMES = tuple(f.name for f in fields(AgentRecord))
_COLUMNS = tuple(agents.c[name] for name in _NAMES)


def _record(row: Sequence[Any]) -> AgentRecord:
    values = list(row)
    values[9] = bool(values[9])
    return AgentRecord(*values)


async def insert_agent(db: Database, record: AgentRecord) -> None:
    values = {name: getattr(record, name) for name in _NAMES}
    async with db.write() as conn:
        await conn.execute(insert(agents).values(**values))


async def get(db: Database, agent_id: str) -> AgentRecord | None:
    async with db.read() as conn:
        row = (await conn.execute(select(*_COLUMNS).where(agents.c.id == agent_id))).first()
    return None if row is None else _record(row)


async def by_key(db: Database, api_key_id: str) -> AgentRecord | None:
    async with db.read() as conn:
        row = (await conn.execute(select(*_COLUMNS).where(agents.c.api_key_id == api_key_id))).first()
    return None if row is None else _record(row)


async def page(db: Database, partner: str | None, offset: int, limit: int) -> tuple[list[AgentRecord], int]:
    """One page of agents, oldest first; ``partner=None``: every partner's."""
    query = select(*_COLUMNS).order_by(agents.c.created_at, agents.c.id)
    count = select(func.count()).select_from(agents)
    if partner is not None:
        query, count = query.where(agents.c.partner == partner), count.where(agents.c.partner == partner)
    async with db.read() as conn:
        rows = (await conn.execute(query.offset(offset).limit(limit))).all()
        total = int((await conn.execute(count)).scalar_one())
    return [_record(row) for row in rows], total


async def heartbeat(db: Database, agent_id: str, now: int, status: str, load: str | None, memory: str | None) -> bool:
    """Record a heartbeat of an enabled agent; False when it is unknown or disabled."""
    async with db.write() as conn:
        result = await conn.execute(
            update(agents)
            .where(agents.c.id == agent_id, agents.c.enabled.is_(True))
            .values(last_seen=now, reported_status=status, load=load, memory=memory)
        )
    return bool(result.rowcount)


async def disable(db: Database, agent_id: str, now: int) -> bool:
    """Mark an enabled agent disabled; False when it already was (or is unknown)."""
    async with db.write() as conn:
        result = await conn.execute(
            update(agents)
            .where(agents.c.id == agent_id, agents.c.enabled.is_(True))
            .values(enabled=False, disabled_at=now)
        )
    return bool(result.rowcount)


async def use_enrollment(db: Database, enrollment: str, allowed: int) -> bool:
    """Count one use of ``enrollment`` if fewer than ``allowed`` were counted; atomic across peers
    (a conditional UPDATE, or the primary key refusing a second peer's first INSERT)."""
    for _ in range(3):
        async with db.write() as conn:
            result = await conn.execute(
                update(agent_enrollments)
                .where(agent_enrollments.c.id == enrollment, agent_enrollments.c.used < allowed)
                .values(used=agent_enrollments.c.used + 1)
            )
            if result.rowcount:
                return True
            exists = (
                await conn.execute(select(agent_enrollments.c.used).where(agent_enrollments.c.id == enrollment))
            ).first()
        if exists is not None:
            return False
        try:
            async with db.write() as conn:
                await conn.execute(insert(agent_enrollments).values(id=enrollment, used=1))
            return True
        except IntegrityError:
            continue  # another peer inserted it first: count against its row
    return False


async def release_enrollment(db: Database, enrollment: str) -> None:
    """Give back a use counted for a registration that then failed."""
    async with db.write() as conn:
        await conn.execute(
            update(agent_enrollments)
            .where(agent_enrollments.c.id == enrollment, agent_enrollments.c.used > 0)
            .values(used=agent_enrollments.c.used - 1)
        )
