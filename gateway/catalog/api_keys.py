"""API keys in the catalog: the row of each key, never its secret (only a hash of it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from gateway.catalog.db import Database
from gateway.catalog.models import api_keys


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    owner: str
    name: str
    scopes: frozenset[str]
    secret_hash: str
    generation: int
    created_at: int  # µs since the epoch, UTC, like every catalog time
    created_by: str
    expires_at: int | None
    revoked_at: int | None
    last_used_at: int | None


_COLUMNS = (
    api_keys.c.id,
    api_keys.c.owner,
    api_keys.c.name,
    api_keys.c.scopes,
    api_keys.c.secret_hash,
    api_keys.c.generation,
    api_keys.c.created_at,
    api_keys.c.created_by,
    api_keys.c.expires_at,
    api_keys.c.revoked_at,
    api_keys.c.last_used_at,
)


def _record(row: Sequence[Any]) -> ApiKeyRecord:
    values = list(row)
    values[3] = frozenset(values[3].split())
    return ApiKeyRecord(*values)


async def insert_key(db: Database, record: ApiKeyRecord) -> None:
    async with db.write() as conn:
        await conn.execute(
            insert(api_keys).values(
                id=record.id,
                owner=record.owner,
                name=record.name,
                scopes=" ".join(sorted(record.scopes)),
                secret_hash=record.secret_hash,
                generation=record.generation,
                created_at=record.created_at,
                created_by=record.created_by,
                expires_at=record.expires_at,
            )
        )


async def get(db: Database, key_id: str) -> ApiKeyRecord | None:
    async with db.read() as conn:
        row = (await conn.execute(select(*_COLUMNS).where(api_keys.c.id == key_id))).first()
    return None if row is None else _record(row)


async def search(db: Database, owner: str | None) -> list[ApiKeyRecord]:
    query = select(*_COLUMNS).order_by(api_keys.c.created_at, api_keys.c.id)
    if owner is not None:
        query = query.where(api_keys.c.owner == owner)
    async with db.read() as conn:
        return [_record(row) for row in (await conn.execute(query)).all()]


async def revoke(db: Database, key_id: str, now: int) -> bool:
    """Mark a live key revoked; False when it is unknown or already revoked."""
    async with db.write() as conn:
        result = await conn.execute(
            update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=now)
        )
    return bool(result.rowcount)


async def replace_secret(db: Database, key_id: str, secret_hash: str) -> int | None:
    """A new secret for a live key, and its generation raised; the new generation or None."""
    async with db.write() as conn:
        result = await conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(secret_hash=secret_hash, generation=api_keys.c.generation + 1)
            .returning(api_keys.c.generation)
        )
        row = result.first()
    return None if row is None else int(row[0])


async def touch(db: Database, key_id: str, now: int, first: bool) -> bool:
    """Record a use; with ``first``, only if the key was never used (True when this call did it,
    so that exactly one peer reports the first use)."""
    condition = api_keys.c.last_used_at.is_(None) if first else api_keys.c.last_used_at < now
    async with db.write() as conn:
        result = await conn.execute(update(api_keys).where(api_keys.c.id == key_id, condition).values(last_used_at=now))
    return bool(result.rowcount)
