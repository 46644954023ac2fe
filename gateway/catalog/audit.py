"""The audit trail of credential events.

Event names: ``login.ok``, ``login.failed``, ``apikey.created``, ``apikey.first_use``,
``apikey.revoked``, ``apikey.regenerated``, ``token.issued``, ``token.revoked``, ``ban.added``,
``ban.lifted``. ``detail`` never holds a secret.

Each :func:`record` is its own write (committed before it returns), so an event is on record
whatever the request does next. It is meant for credential events, which are rare next to file
transfers and already cost a password hash or a catalog write: never call it per file request.
As a last line of defence, a ``detail`` entry named like a credential (``password``, ``token``,
``key``...) is stored redacted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select

from gateway.catalog.db import Database, now_us
from gateway.catalog.models import audit_events as table

# Names under which a caller might carelessly pass a credential itself (an id is fine: "keyId").
_SECRET_NAMES = frozenset(
    ("password", "secret", "client_secret", "token", "access_token", "refresh_token", "key", "api_key", "apikey")
    + ("assertion", "client_assertion", "credential", "credentials", "authorization")
)
REDACTED = "[redacted]"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: int
    at: int  # catalog microseconds
    event: str
    principal: str | None
    address: str | None
    detail: dict[str, Any]


def _safe(detail: Mapping[str, Any] | None) -> str:
    clean = {str(k): REDACTED if str(k).lower() in _SECRET_NAMES else v for k, v in (detail or {}).items()}
    return json.dumps(clean, ensure_ascii=False, separators=(",", ":"), default=str)


async def record(
    db: Database,
    event: str,
    *,
    principal: str | None,
    address: str | None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append one event (committed on its own)."""
    values = {
        "at": now_us(),
        "event": event[:64],
        "principal": None if principal is None else principal[:255],
        "address": None if address is None else address[:64],
        "detail": _safe(detail),
    }
    async with db.write() as conn:
        await conn.execute(insert(table).values(**values))


async def search(
    db: Database,
    *,
    event: str | None = None,
    principal: str | None = None,
    address: str | None = None,
    since: int | None = None,
    until: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[AuditEvent]]:
    """Events matching every filter given (``since`` inclusive, ``until`` exclusive), newest
    first: the number of matches and one page of them."""
    conditions = []
    if event is not None:
        conditions.append(table.c.event == event)
    if principal is not None:
        conditions.append(table.c.principal == principal)
    if address is not None:
        conditions.append(table.c.address == address)
    if since is not None:
        conditions.append(table.c.at >= since)
    if until is not None:
        conditions.append(table.c.at < until)
    async with db.read() as conn:
        total = (await conn.execute(select(func.count()).select_from(table).where(*conditions))).scalar_one()
        rows = await conn.execute(
            select(table).where(*conditions).order_by(table.c.id.desc()).limit(limit).offset(offset)
        )
        found = [AuditEvent(r.id, r.at, r.event, r.principal, r.address, json.loads(r.detail)) for r in rows]
    return int(total), found
