"""The admin API of abuse control: bans (list, lift) and the audit trail (``/admin/...``).

Same admin check and envelope as ``http/admin.py``; documented in ``gateway/openapi/admin_security.py``.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.catalog import audit
from gateway.catalog.audit import AuditEvent
from gateway.catalog.bans import Ban
from gateway.core import defender
from gateway.core.timefmt import iso_ms, iso_now, now_us
from gateway.errors import InvalidParameterError, NotFoundError
from gateway.http.admin import MAX_LIMIT, _admin, _int
from gateway.http.envelope import json_response

_MAX_FILTER = 255


def _ok(status: int = 200, **body: Any) -> Response:
    return json_response({"result": "ok", "timestamp": iso_now(), **body}, status=status)


def ban_json(ban: Ban, now: int) -> dict[str, Any]:
    kind, value = defender.split_key(ban.key)
    return {
        "kind": kind,
        "value": value,
        "bannedAt": iso_ms(ban.banned_at),
        "until": iso_ms(ban.until),
        "retryAfter": max(0, math.ceil((ban.until - now) / 1_000_000)),
        "score": ban.score,
    }


def event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "time": iso_ms(event.at),
        "event": event.event,
        "principal": event.principal,
        "address": event.address,
        "detail": event.detail,
    }


async def list_bans(request: Request) -> Response:
    rt, _ = await _admin(request)
    now = now_us()
    found = await defender.in_force(rt)
    return _ok(total=len(found), bans=[ban_json(b, now) for b in found])


async def lift_ban(request: Request) -> Response:
    rt, principal = await _admin(request)
    kind, value = request.path_params["kind"], request.path_params["value"]
    if kind not in defender.KINDS:
        raise InvalidParameterError("kind", "expected address or account")
    if not value or len(value) > _MAX_FILTER or "\0" in value:
        raise InvalidParameterError("value", f"expected 1 to {_MAX_FILTER} characters, no NUL")
    lifted = await defender.lift(rt, kind, value, by=principal.user, address=principal.client_address)
    if lifted is None:
        raise NotFoundError(f"No ban in force for {kind} '{value}'")
    return _ok(message="Ban lifted", ban=ban_json(lifted, now_us()))


def _text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if len(value) > _MAX_FILTER or "\0" in value:
        raise InvalidParameterError(name, f"at most {_MAX_FILTER} characters, no NUL")
    return value


def _time(request: Request, name: str) -> int | None:
    """An ISO 8601 date-time with an offset or ``Z`` (``2026-12-02T14:00:00Z``), as microseconds."""
    raw = _text(request, name)
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise InvalidParameterError(name, "expected an ISO 8601 date-time with a time zone, like 2026-12-02T14:00:00Z")
    return int(when.timestamp() * 1_000_000)


async def list_audit(request: Request) -> Response:
    rt, _ = await _admin(request)
    total, found = await audit.search(
        rt.db,
        event=_text(request, "event"),
        principal=_text(request, "principal"),
        address=_text(request, "address"),
        since=_time(request, "since"),
        until=_time(request, "until"),
        limit=_int(request, "limit", 100, MAX_LIMIT) or 0,
        offset=_int(request, "start", 0, 2**62) or 0,
    )
    return _ok(total=total, events=[event_json(e) for e in found])


ROUTES: list[BaseRoute] = [
    Route("/admin/bans", list_bans, methods=["GET"], name="admin:bans"),
    Route("/admin/bans/{kind}/{value:path}", lift_ban, methods=["DELETE"], name="admin:lift-ban"),
    Route("/admin/audit", list_audit, methods=["GET"], name="admin:audit"),
]
