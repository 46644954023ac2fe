"""Transfers in the catalog: one row per movement of bytes (gateway/core/transfers.py).

Rows of ``/2.0`` transfers are written in batches by gateway/core/transfer_log.py, so
:func:`save_many` takes many rows in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, insert, select, update

from gateway.catalog.db import Database, Prepared
from gateway.catalog.models import transfers


@dataclass(slots=True)
class TransferRecord:
    id: str
    direction: str
    protocol: str
    source: str
    destination: str
    size: int | None
    bytes_transferred: int
    progress: int
    speed: int
    status: str
    started_at: int
    ended_at: int | None
    updated_at: int
    sha256: str | None
    agent_id: str | None
    partner: str
    owner: str
    run_id: int | None
    error: str | None


NAMES = tuple(f.name for f in fields(TransferRecord))
_COLUMNS = tuple(transfers.c[name] for name in NAMES)
_MUTABLE = ("size", "bytes_transferred", "progress", "speed", "status", "ended_at", "updated_at", "sha256", "error")


@dataclass(frozen=True, slots=True)
class TransferFilter:
    """What a list asks for; ``None`` fields do not filter."""

    partner: str | None = None
    agent_id: str | None = None
    status: str | None = None
    started_from: int | None = None
    started_to: int | None = None


def _record(row: Sequence[Any]) -> TransferRecord:
    return TransferRecord(**dict(zip(NAMES, row, strict=True)))


def _values(record: TransferRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in NAMES}


async def insert_one(db: Database, record: TransferRecord) -> None:
    async with db.write() as conn:
        await conn.execute(insert(transfers).values(**_values(record)))


_INSERT = Prepared(insert(transfers), list(NAMES))
_UPDATE = Prepared(
    update(transfers)
    .where(transfers.c.id == bindparam("b_id"))
    .values({name: bindparam(f"b_{name}") for name in _MUTABLE})
)


async def save_many(db: Database, new: Sequence[Mapping[str, Any]], changed: Sequence[Mapping[str, Any]]) -> None:
    """Insert the ``new`` rows (every column of :data:`NAMES`, by name) and rewrite the mutable
    columns of the ``changed`` ones, in one transaction: one executemany of a prepared statement
    per list (on SQLite straight on the driver, see catalog/db.py ``Prepared``; on PostgreSQL one
    SQLAlchemy executemany)."""
    if not new and not changed:
        return
    updates = [{"b_id": row["id"], **{f"b_{name}": row[name] for name in _MUTABLE}} for row in changed]
    async with db.write() as conn:
        if new:
            await conn.run_many(_INSERT, new)
        if updates:
            await conn.run_many(_UPDATE, updates)


async def update_if(db: Database, record: TransferRecord, expected_status: str) -> bool:
    """Write ``record``'s mutable columns if the row's status is still ``expected_status`` (two
    PATCHes racing: the second one is refused rather than undoing the first)."""
    async with db.write() as conn:
        result = await conn.execute(
            update(transfers)
            .where(transfers.c.id == record.id, transfers.c.status == expected_status)
            .values({name: getattr(record, name) for name in _MUTABLE})
        )
    return bool(result.rowcount)


async def get(db: Database, transfer_id: str) -> TransferRecord | None:
    async with db.read() as conn:
        row = (await conn.execute(select(*_COLUMNS).where(transfers.c.id == transfer_id))).first()
    return None if row is None else _record(row)


def _conditions(f: TransferFilter) -> Iterable[ColumnElement[bool]]:
    if f.partner is not None:
        yield transfers.c.partner == f.partner
    if f.agent_id is not None:
        yield transfers.c.agent_id == f.agent_id
    if f.status is not None:
        yield transfers.c.status == f.status
    if f.started_from is not None:
        yield transfers.c.started_at >= f.started_from
    if f.started_to is not None:
        yield transfers.c.started_at < f.started_to


async def page(db: Database, f: TransferFilter, offset: int, limit: int) -> tuple[list[TransferRecord], int]:
    """One page, newest first, and how many match in all."""
    conditions = list(_conditions(f))
    query = select(*_COLUMNS).where(*conditions).order_by(transfers.c.started_at.desc(), transfers.c.id.desc())
    count = select(func.count()).select_from(transfers).where(*conditions)
    async with db.read() as conn:
        rows = (await conn.execute(query.offset(offset).limit(limit))).all()
        total = int((await conn.execute(count)).scalar_one())
    return [_record(row) for row in rows], total


async def purge(db: Database, before: int) -> int:
    """Remove the rows that last changed before ``before`` (µs); how many were removed. (A row
    starts before it changes: the start-time index finds the candidates without a scan.)"""
    async with db.write() as conn:
        old = delete(transfers).where(transfers.c.started_at < before, transfers.c.updated_at < before)
        result = await conn.execute(old)
    return int(result.rowcount or 0)
