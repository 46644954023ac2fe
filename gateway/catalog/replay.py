"""Replay protection for client assertions: each ``(issuer, jti)`` is accepted once, cluster-wide.

The catalog is what every peer shares, so the check is the catalog's own: the pair is the primary
key of ``assertion_jtis``, and :func:`remember` simply inserts it. A replay, on this peer or any
other, however close in time, makes the insert fail on the key. There is no read before the write,
hence no window between "not seen yet" and "now seen" for a second request to slip through.

A row only has to outlive the assertion it stands for: after ``expires_at`` the assertion's own
``exp`` (with leeway) refuses it. Expired rows are deleted opportunistically: the accepting write
first drops an expired row of the same pair (so a jti may be reused once the earlier assertion can
no longer be accepted, as RFC 7523 section 3 allows, whether or not a purge ran in between), and at
most once every ``PURGE_SECONDS`` per process an accepted assertion is followed by a purge of
every expired row. The table thus holds about the assertions of the last maximum lifetime.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import weakref

from sqlalchemy import bindparam, delete, insert
from sqlalchemy.exc import IntegrityError

from gateway.catalog.db import Database, Prepared, now_us
from gateway.catalog.models import assertion_jtis

log = logging.getLogger("gateway.catalog")
MAX_LENGTH = 255  # characters of an issuer or a jti (the columns' size)
PURGE_SECONDS = 60.0
_last_purge: weakref.WeakKeyDictionary[Database, float] = weakref.WeakKeyDictionary()

_DROP_EXPIRED_PAIR = Prepared(
    delete(assertion_jtis).where(
        (assertion_jtis.c.issuer == bindparam("b_issuer"))
        & (assertion_jtis.c.jti == bindparam("b_jti"))
        & (assertion_jtis.c.expires_at <= bindparam("b_now"))
    )
)
_INSERT = Prepared(insert(assertion_jtis), columns=("issuer", "jti", "expires_at"))


async def remember(db: Database, issuer: str, jti: str, expires_at: int) -> bool:
    """Record ``(issuer, jti)`` until ``expires_at`` (microseconds since the epoch): True the first
    time, False when the pair is already recorded and not expired (a replay).

    ``issuer`` and ``jti`` are non-empty strings of at most ``MAX_LENGTH`` printable characters
    (ValueError otherwise: the caller refuses such assertions before they get here).
    """
    for what, value in (("issuer", issuer), ("jti", jti)):
        if not value or len(value) > MAX_LENGTH or not value.isprintable():
            raise ValueError(f"{what} must be 1 to {MAX_LENGTH} printable characters")
    try:
        async with db.write() as conn:
            await conn.run(_DROP_EXPIRED_PAIR, {"b_issuer": issuer, "b_jti": jti, "b_now": now_us()})
            await conn.run(_INSERT, {"issuer": issuer, "jti": jti, "expires_at": expires_at})
    except (IntegrityError, sqlite3.IntegrityError):  # the latter from SQLite's prepared path
        return False
    await _purge_if_due(db)
    return True


async def purge_expired(db: Database) -> int:
    """Delete every row whose assertion has expired; the number deleted."""
    async with db.write() as conn:
        result = await conn.execute(delete(assertion_jtis).where(assertion_jtis.c.expires_at <= now_us()))
    return int(result.rowcount)


async def _purge_if_due(db: Database) -> None:
    now = time.monotonic()
    last = _last_purge.get(db)
    if last is not None and now - last < PURGE_SECONDS:
        return
    _last_purge[db] = now
    try:
        await purge_expired(db)
    except Exception:  # the assertion was accepted; a failed purge only delays the cleanup
        log.exception("purge of expired assertion jtis failed")
