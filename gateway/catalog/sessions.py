"""Server-side sessions: the cookie carries a random token, the catalog only its SHA-256.

Sessions live in the catalog so that any peer behind a load balancer can serve any request,
and so that logout (or an operator) can revoke them. ``last_seen`` is written at most once a
minute per session (or every quarter of the idle timeout, if that is shorter): the idle timeout
needs no finer grain, and a write per request would cost every download a catalog commit.

A session found in the catalog is remembered by this process for ``CACHE_SECONDS``, so a client
sending many requests in a row costs one catalog read every two seconds instead of one per
request. Logout and revocation through this process take effect at once; a session revoked
through another peer of a cluster is still honoured here for at most ``CACHE_SECONDS``. Only
positive answers are remembered, and a remembered session that looks expired is read again.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import bindparam, delete, insert, select, update

from gateway.catalog.db import Database, Prepared, now_us
from gateway.catalog.models import sessions
from gateway.catalog.percatalog import PerCatalog
from gateway.catalog.records import SessionRecord

_TOUCH_EVERY_US = 60_000_000
_US = 1_000_000
CACHE_SECONDS = 2
_CACHE_MAX = 10_000
# Per catalog: token hash -> (session, when it was read).
_cache: PerCatalog[dict[str, tuple[SessionRecord, int]]] = PerCatalog(lambda db: {})


_LOOKUP = Prepared(
    select(sessions.c.user_name, sessions.c.created_at, sessions.c.last_seen, sessions.c.expires_at).where(
        sessions.c.token_hash == bindparam("b_key")
    )
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def key_of(token: str) -> str:
    """The session's key in the catalog (the token's SHA-256), for :func:`lookup_key`."""
    return _hash(token)


def new_token() -> str:
    """256 random bits, URL-safe base64: valid as a cookie value without quoting."""
    return secrets.token_urlsafe(32)


async def create(db: Database, user: str, absolute_seconds: int, client_address: str = "") -> str:
    token = new_token()
    now = now_us()
    async with db.write() as conn:
        await conn.execute(
            insert(sessions).values(
                token_hash=_hash(token),
                user_name=user,
                created_at=now,
                last_seen=now,
                expires_at=now + absolute_seconds * _US,
                client_address=client_address[:64],
            )
        )
    return token


async def lookup(db: Database, token: str, idle_seconds: int) -> SessionRecord | None:
    """The live session for ``token``, or None if unknown, idle too long, or past its lifetime."""
    return await lookup_key(db, _hash(token), idle_seconds)


async def lookup_key(db: Database, key: str, idle_seconds: int) -> SessionRecord | None:
    """:func:`lookup` by the token's :func:`key_of`, for a caller that already has it."""
    now = now_us()
    cache = _cache(db)
    hit = cache.get(key)
    if hit is not None and now - hit[1] < CACHE_SECONDS * _US and _alive(hit[0], now, idle_seconds):
        record = hit[0]
    else:
        cache.pop(key, None)
        rows = await db.rows(_LOOKUP, {"b_key": key})
        if not rows:
            return None
        record = SessionRecord(*rows[0])
        if not _alive(record, now, idle_seconds):
            return None
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = (record, now)
    if now - record.last_seen > min(_TOUCH_EVERY_US, idle_seconds * _US // 4):
        async with db.write() as conn:
            await conn.execute(update(sessions).where(sessions.c.token_hash == key).values(last_seen=now))
        record = SessionRecord(record.user_name, record.created_at, now, record.expires_at)
        if key in cache:
            cache[key] = (record, cache[key][1])
    return record


def _alive(record: SessionRecord, now: int, idle_seconds: int) -> bool:
    return now < record.expires_at and now - record.last_seen <= idle_seconds * _US


async def revoke(db: Database, token: str) -> bool:
    _cache(db).pop(_hash(token), None)
    async with db.write() as conn:
        result = await conn.execute(delete(sessions).where(sessions.c.token_hash == _hash(token)))
    return bool(result.rowcount)


async def revoke_user(db: Database, user: str) -> int:
    cache = _cache(db)
    for key in [k for k, (record, _) in cache.items() if record.user_name == user]:
        del cache[key]
    async with db.write() as conn:
        result = await conn.execute(delete(sessions).where(sessions.c.user_name == user))
    return int(result.rowcount)


async def purge_expired(db: Database, idle_seconds: int) -> int:
    now = now_us()
    async with db.write() as conn:
        result = await conn.execute(
            delete(sessions).where((sessions.c.expires_at <= now) | (sessions.c.last_seen < now - idle_seconds * _US))
        )
    return int(result.rowcount)
