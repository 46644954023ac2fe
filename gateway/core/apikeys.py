"""API keys: ``mft_ak_<id>_<secret>``, shown once, kept only as a hash.

The secret is 256 random bits, so a fast hash is enough: nobody can search a 2^256 space, and a
slow password hash (argon2, tens of ms and MiBs) would only make every ``X-API-Key`` request
expensive. It is SHA-256 over the id and the secret (the id binds the hash to its row).

A key has an owner (a user or service account), a name, scopes (a subset of the owner's), an
optional expiry, and a generation that grows on regenerate. Revoking or regenerating it also
revokes every token issued from it (``gateway/core/tokens.py``) on every peer. ``last_used_at``
is written at most once a minute per key and peer; the first use is audited once.

Reads of a key row are remembered for ``CACHE_SECONDS`` by each peer, so a key revoked through
another peer stops working there within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from gateway.catalog import api_keys as catalog, audit
from gateway.catalog.api_keys import ApiKeyRecord
from gateway.catalog.percatalog import PerCatalog
from gateway.core import defender, machine, tokens
from gateway.core.runtime import Runtime
from gateway.errors import AuthenticationError, InvalidParameterError, NotFoundError

PREFIX = "mft_ak_"
CACHE_SECONDS = 1.0
_TOUCH_EVERY_US = 60_000_000
_FORMAT = re.compile(r"mft_ak_([0-9a-f]{16})_([0-9a-f]{64})")
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,255}")
_CACHE_MAX = 10_000
_cache: PerCatalog[dict[str, tuple[ApiKeyRecord, float]]] = PerCatalog(lambda db: {})
_touched: dict[str, int] = {}


def _hash(key_id: str, secret: str) -> str:
    return hashlib.sha256(f"{key_id}:{secret}".encode("ascii")).hexdigest()


def _now_us() -> int:
    return time.time_ns() // 1000


def _new_secret(key_id: str) -> tuple[str, str]:
    secret = secrets.token_hex(32)
    return f"{PREFIX}{key_id}_{secret}", _hash(key_id, secret)


async def create(
    rt: Runtime,
    owner: str,
    name: str,
    scopes: frozenset[str] | None,
    expires_at: int | None,
    created_by: str,
    address: str | None = None,
) -> tuple[ApiKeyRecord, str]:
    """A new key and its plaintext (never stored, never shown again). ``scopes=None``: all of the
    owner's. Raises ``InvalidParameterError`` naming the bad field."""
    user = rt.config.users.get(owner)
    if user is None:
        raise InvalidParameterError("owner", f"unknown user or service account '{owner}'")
    if not _NAME.fullmatch(name):
        raise InvalidParameterError("name", "1-255 characters, no control characters")
    if scopes is None:
        scopes = user.scopes
    extra = sorted(scopes - user.scopes)
    if extra:
        raise InvalidParameterError("scopes", f"'{owner}' does not hold {', '.join(extra)}")
    if not scopes:
        raise InvalidParameterError("scopes", "at least one scope is needed")
    if expires_at is not None and expires_at <= _now_us():
        raise InvalidParameterError("expiresAt", "must be in the future")
    key_id = secrets.token_hex(8)
    plaintext, secret_hash = _new_secret(key_id)
    record = ApiKeyRecord(
        id=key_id, owner=owner, name=name, scopes=scopes, secret_hash=secret_hash, generation=1,
        created_at=_now_us(), created_by=created_by, expires_at=expires_at, revoked_at=None, last_used_at=None,
    )  # fmt: skip
    await catalog.insert_key(rt.db, record)
    await audit.record(rt.db, "apikey.created", principal=created_by, address=address, detail=_detail(record))
    return record, plaintext


def _detail(record: ApiKeyRecord) -> dict[str, str]:
    return {"key": record.id, "owner": record.owner, "name": record.name}


async def get(rt: Runtime, key_id: str) -> ApiKeyRecord:
    # Ids are hex (token_hex): anything else cannot exist, and a NUL would fail PostgreSQL text.
    possible = len(key_id) <= 32 and key_id.isascii() and key_id.isalnum()
    record = await catalog.get(rt.db, key_id) if possible else None
    if record is None:
        raise NotFoundError(f"API key '{key_id[:40]}' doesn't exist")
    return record


async def search(rt: Runtime, owner: str | None) -> list[ApiKeyRecord]:
    return await catalog.search(rt.db, owner)


async def revoke(rt: Runtime, key_id: str, by: str, address: str | None = None) -> ApiKeyRecord:
    """Revoke a key and every token issued from it, on every peer; raises NotFoundError."""
    record = await get(rt, key_id)
    if record.revoked_at is None and await catalog.revoke(rt.db, key_id, _now_us()):
        await tokens.revoke_credential(rt, f"apikey:{key_id}", tokens.NEVER)
        await audit.record(rt.db, "apikey.revoked", principal=by, address=address, detail=_detail(record))
    _cache(rt.db).pop(key_id, None)
    return await get(rt, key_id)


async def regenerate(rt: Runtime, key_id: str, by: str, address: str | None = None) -> tuple[ApiKeyRecord, str]:
    """A new secret for a live key; the old secret and its tokens stop working everywhere."""
    record = await get(rt, key_id)
    plaintext, secret_hash = _new_secret(key_id)
    generation = await catalog.replace_secret(rt.db, key_id, secret_hash) if record.revoked_at is None else None
    if generation is None:
        raise InvalidParameterError("id", f"API key '{key_id}' is revoked")
    await tokens.revoke_credential(rt, f"apikey:{key_id}", generation)
    _cache(rt.db).pop(key_id, None)
    await audit.record(rt.db, "apikey.regenerated", principal=by, address=address, detail=_detail(record))
    return await get(rt, key_id), plaintext


def parse_id(presented: str) -> str | None:
    match = _FORMAT.fullmatch(presented)
    return match.group(1) if match else None


async def authenticate(rt: Runtime, presented: str, address: str) -> ApiKeyRecord:
    """The live key ``presented`` names, its owner enabled and in agreement; raises
    ``AuthenticationError`` (``AgreementEndedError`` for an ended agreement)."""
    match = _FORMAT.fullmatch(presented)
    account = f"apikey:{match.group(1)}" if match else None
    await defender.guard(rt, address, account)
    if match is None:
        await defender.failed(rt, address, None, known=False)
        raise AuthenticationError("Invalid or expired API key")
    key_id, secret = match.groups()
    cache = _cache(rt.db)
    hit = cache.get(key_id)
    fresh = hit is None or time.monotonic() - hit[1] >= CACHE_SECONDS
    if fresh:
        record = await catalog.get(rt.db, key_id)
        if record is not None:
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[key_id] = (record, time.monotonic())
    else:
        assert hit is not None
        record = hit[0]
    now = _now_us()
    good = record is not None and hmac.compare_digest(record.secret_hash, _hash(key_id, secret))
    if record is None or not good or record.revoked_at is not None or _expired(record, now):
        await defender.failed(rt, address, account, known=record is not None)
        raise AuthenticationError("Invalid or expired API key")
    machine.owner(rt, record.owner)
    if fresh:
        await defender.succeeded(rt, address, account)
    await _touch(rt, record, now, address)
    return record


def _expired(record: ApiKeyRecord, now: int) -> bool:
    return record.expires_at is not None and now >= record.expires_at


async def _touch(rt: Runtime, record: ApiKeyRecord, now: int, address: str) -> None:
    last = max(_touched.get(record.id, 0), record.last_used_at or 0)
    if record.last_used_at is None and record.id not in _touched:
        _touched[record.id] = now
        if await catalog.touch(rt.db, record.id, now, first=True):
            detail = _detail(record)
            await audit.record(rt.db, "apikey.first_use", principal=record.owner, address=address, detail=detail)
    elif now - last >= _TOUCH_EVERY_US:
        _touched[record.id] = now
        await catalog.touch(rt.db, record.id, now, first=False)
    if len(_touched) > _CACHE_MAX:
        _touched.clear()
