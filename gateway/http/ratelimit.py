"""Request rate limits per principal and endpoint class.

``key`` names who is counted: ``user:<name>``, ``apikey:<id>``, ``client:<id>``, ``agent:<id>``, or
``addr:<address>`` for anonymous requests. ``tier`` is the endpoint class: ``public``,
``authenticated``, ``agent`` or ``transfer`` (file transfers on ``/2.0``).

Limits are requests per fixed one-minute window (aligned on the clock's minutes, so every peer
counts the same window), from ``rate_limits:`` in gateway.yaml. Every counted answer, a refusal
included, carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (the
window's end as **Unix epoch seconds**, as seed 001 and GitHub send it); a refusal is 429
``rate_limit`` with ``Retry-After`` (seconds until the window ends, at least 1). Refused requests
do not count.

:func:`charge` never waits for the catalog: counts live in this process and :func:`keep_in_step`
publishes them and reads the other peers' sums every ``sync_seconds`` (catalog/ratecounts.py).
Across N peers, at most (N - 1) × rate × sync_seconds requests beyond the limit get in.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from gateway.catalog import ratecounts
from gateway.catalog.percatalog import PerCatalog
from gateway.config.schema import RATE_TIERS
from gateway.core.runtime import Runtime
from gateway.errors import RateLimitedError
from gateway.http.accesslog import EXTRA_HEADERS

log = logging.getLogger("gateway.ratelimit")
WINDOW_SECONDS = 60
_TIERS = frozenset(RATE_TIERS)


@dataclass
class _Counts:
    peer: str = field(default_factory=lambda: uuid.uuid4().hex)
    minute: int = 0
    local: ratecounts.Counts = field(default_factory=dict)  # this process's, this minute
    others: ratecounts.Counts = field(default_factory=dict)  # every other peer's, last read
    dirty: bool = False

    def roll(self, minute: int) -> None:
        self.minute, self.local, self.others, self.dirty = minute, {}, {}, True


_state: PerCatalog[_Counts] = PerCatalog(lambda db: _Counts())


def _headers(limit: int, remaining: int, reset: int) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-ratelimit-limit", str(limit).encode()),
        (b"x-ratelimit-remaining", str(remaining).encode()),
        (b"x-ratelimit-reset", str(reset).encode()),
    ]


async def charge(conn: HTTPConnection, rt: Runtime, key: str, tier: str) -> None:
    """Count one request; raise ``RateLimitedError`` when over the limit. Never a catalog round
    trip per request: counts are kept in memory and reconciled across peers in the background."""
    cfg = rt.config.server.rate_limits
    if tier not in _TIERS:
        raise ValueError(f"unknown rate-limit tier {tier!r}")
    limit = cfg.limit(tier)
    if not cfg.enabled or not limit:
        return
    state = _state(rt.db)
    now = time.time()
    minute = int(now // WINDOW_SECONDS)
    if minute != state.minute:
        state.roll(minute)
    counted = (key, tier)
    mine = state.local.get(counted, 0)
    used = mine + state.others.get(counted, 0)
    reset = (minute + 1) * WINDOW_SECONDS
    if used >= limit:
        conn.scope[EXTRA_HEADERS] = _headers(limit, 0, reset)
        raise RateLimitedError(retry_after=max(1, math.ceil(reset - now)))
    state.local[counted] = mine + 1
    state.dirty = True
    conn.scope[EXTRA_HEADERS] = _headers(limit, limit - used - 1, reset)


async def sync(rt: Runtime) -> None:
    """Publish this process's counts of the current minute and read the other peers' sums."""
    state = _state(rt.db)
    minute = int(time.time() // WINDOW_SECONDS)
    if minute != state.minute:
        state.roll(minute)
    if state.dirty:
        state.dirty = False
        try:
            await ratecounts.publish(rt.db, state.peer, minute, dict(state.local))
        except BaseException:
            state.dirty = True
            raise
    others = await ratecounts.others(rt.db, state.peer, minute)
    if state.minute == minute:
        state.others = others


async def keep_in_step(rt: Runtime) -> None:
    """Run for the life of the process: :func:`sync` every ``sync_seconds``."""
    cfg = rt.config.server.rate_limits
    if not cfg.enabled:
        return
    purged = 0
    while True:
        await asyncio.sleep(cfg.sync_seconds)
        try:
            await sync(rt)
            minute = int(time.time() // WINDOW_SECONDS)
            if minute != purged:
                purged = minute
                await ratecounts.purge(rt.db, minute - 1)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("rate limits: sharing counts with the other peers failed (counting locally)")
