"""Brute-force defence at every credential check.

Every place that checks a credential (password login, API key, ``/token``, ``/oauth2/token``,
bearer tokens) calls :func:`guard` before the check and :func:`failed` or :func:`succeeded` after
it, with the proxy-resolved client address and the account name the client claimed (``None`` when
it claimed none).

The policy (SFTPGo's defender, shared through the catalog): a failed check scores
``SCORE_KNOWN`` against the client address when the account exists and ``SCORE_UNKNOWN`` when it
does not (name-guessing is the likelier attack), and ``SCORE_ACCOUNT`` against the claimed account
whatever its existence (an account ban must not tell which names exist). When a key's total
within ``observation_seconds`` reaches its threshold, it is banned for ``ban_seconds``, for every
peer (a catalog row) and across restarts; each attempt while banned lengthens the ban by
``ban_increment_seconds``, up to ``max_ban_seconds`` after it began. Addresses in the safe list
are never scored nor refused. A success changes nothing: it neither lifts a ban nor forgives
earlier failures (else one known password would launder a guessing run).

:func:`guard` runs before any password hash and never touches the catalog: each process keeps a
view of the bans in force, refreshed about once a second by :func:`keep_fresh` (a ban made on
another peer holds here within ~1 s), and lengthenings are published by the same loop.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import math
import time
from dataclasses import dataclass, field

from gateway.catalog import audit, bans
from gateway.catalog.bans import Ban
from gateway.catalog.percatalog import PerCatalog
from gateway.core.runtime import Runtime
from gateway.core.timefmt import now_us
from gateway.errors import RateLimitedError

log = logging.getLogger("gateway.defender")

SCORE_KNOWN = 1
SCORE_UNKNOWN = 2
SCORE_ACCOUNT = 1
REFRESH_SECONDS = 1.0
_STALE_SECONDS = 3.0  # a view older than this (no refresh loop running) is read again inline
_PURGE_SECONDS = 60.0
_US = 1_000_000
BANNED_MESSAGE = "Too many failed attempts: try again later"
KINDS = {"address": "addr:", "account": "acct:"}


@dataclass
class _View:
    bans: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (banned_at, until)
    pending: dict[str, int] = field(default_factory=dict)  # key -> lengthened end, to publish
    refreshed: float = -math.inf  # time.monotonic() of the last read


_view: PerCatalog[_View] = PerCatalog(lambda db: _View())


def ban_key(kind: str, value: str) -> str:
    """The catalog key of an ``address`` or ``account`` ban."""
    return KINDS[kind] + value[:255]


def split_key(key: str) -> tuple[str, str]:
    """``(kind, value)`` of a ban key."""
    for kind, prefix in KINDS.items():
        if key.startswith(prefix):
            return kind, key[len(prefix) :]
    return "other", key


@functools.lru_cache(maxsize=8)
def _networks(safe_list: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in safe_list)


def is_safe(safe_list: tuple[str, ...], address: str) -> bool:
    if not safe_list:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _networks(safe_list))


def _keys(address: str, account: str | None) -> list[str]:
    keys = [ban_key("address", address)]
    if account:
        keys.append(ban_key("account", account))
    return keys


async def guard(rt: Runtime, address: str, account: str | None) -> None:
    """Raise ``RateLimitedError`` while ``address`` or ``account`` is banned; cheap otherwise."""
    cfg = rt.config.server.defender
    if not cfg.enabled or is_safe(cfg.safe_list, address):
        return
    view = _view(rt.db)
    if time.monotonic() - view.refreshed > _STALE_SECONDS:
        await refresh(rt)
    now = now_us()
    end = 0
    for key in _keys(address, account):
        found = view.bans.get(key)
        if found is None or found[1] <= now:
            continue
        banned_at, until = found
        longer = min(until + int(cfg.ban_increment_seconds * _US), banned_at + int(cfg.max_ban_seconds * _US))
        if longer > until:
            view.bans[key] = (banned_at, longer)
            view.pending[key] = longer
            until = longer
        end = max(end, until)
    if end:
        raise RateLimitedError(BANNED_MESSAGE, retry_after=max(1, math.ceil((end - now) / _US)))


async def failed(rt: Runtime, address: str, account: str | None, *, known: bool) -> None:
    """Score a failed check; ``known`` says whether the account exists (unknown ones score higher)."""
    cfg = rt.config.server.defender
    if not cfg.enabled or is_safe(cfg.safe_list, address):
        return
    now = now_us()
    keys = _keys(address, account)
    points = [SCORE_KNOWN if known else SCORE_UNKNOWN, SCORE_ACCOUNT]
    totals = await bans.score(
        rt.db, list(zip(keys, points, strict=False)), now, now - int(cfg.observation_seconds * _US)
    )
    thresholds = [cfg.threshold, cfg.account_threshold]
    view = _view(rt.db)
    for key, threshold in zip(keys, thresholds, strict=False):
        total = totals.get(key, 0)
        if total < threshold:
            continue
        until = now + int(cfg.ban_seconds * _US)
        started = await bans.ban(rt.db, key, now, until, total)
        current = view.bans.get(key)
        view.bans[key] = (now, until) if started or current is None else (current[0], max(current[1], until))
        if started:
            kind, _ = split_key(key)
            log.warning("banned %s after a failure score of %d", kind, total)
            await audit.record(
                rt.db,
                "ban.added",
                principal=account if kind == "account" else None,
                address=address,
                detail={"kind": kind, "score": total, "seconds": cfg.ban_seconds},
            )


async def succeeded(rt: Runtime, address: str, account: str | None) -> None:
    """A successful check (it does not lift a ban).

    Deliberately nothing else either: earlier failures keep counting (see the module's docstring).
    """


async def refresh(rt: Runtime) -> None:
    """Publish this process's lengthened bans, then read the bans in force from the catalog."""
    view = _view(rt.db)
    pending, view.pending = view.pending, {}
    if pending:
        try:
            await bans.extend(rt.db, pending)
        except BaseException:
            view.pending = {**pending, **view.pending}
            raise
    found = await bans.active(rt.db, now_us())
    fresh = {ban.key: (ban.banned_at, ban.until) for ban in found}
    for key, until in view.pending.items():  # lengthened while the catalog was being read
        if key in fresh and fresh[key][1] < until:
            fresh[key] = (fresh[key][0], until)
    view.bans = fresh
    view.refreshed = time.monotonic()


async def keep_fresh(rt: Runtime) -> None:
    """Run for the life of the process: refresh the view every second, purge old scores each minute."""
    if not rt.config.server.defender.enabled:
        return
    cfg = rt.config.server.defender
    purged = time.monotonic()
    while True:
        try:
            await refresh(rt)
            if time.monotonic() - purged > _PURGE_SECONDS:
                purged = time.monotonic()
                now = now_us()
                await bans.purge(rt.db, now - int(cfg.observation_seconds * _US), now - 86400 * _US)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("defender: reading the bans failed (the previous view stays in force)")
        await asyncio.sleep(REFRESH_SECONDS)


async def in_force(rt: Runtime) -> list[Ban]:
    """The bans in force, from the catalog (for the admin API)."""
    return await bans.active(rt.db, now_us())


async def lift(rt: Runtime, kind: str, value: str, *, by: str, address: str) -> Ban | None:
    """End a ban (and forget its scores) on every peer; the ban lifted, or None if there was none."""
    key = ban_key(kind, value)
    lifted = await bans.lift(rt.db, key, now_us())
    view = _view(rt.db)
    view.bans.pop(key, None)
    view.pending.pop(key, None)
    if lifted is not None:
        await audit.record(
            rt.db,
            "ban.lifted",
            principal=by,
            address=address,
            detail={"kind": kind, "value": value[:255]},
        )
    return lifted
