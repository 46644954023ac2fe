"""The admin API for API keys (``/admin/api-keys``): create, list, show, revoke, regenerate.

Needs the ``keys:manage`` scope (the admin role; operators may not manage credentials). Same
envelope as the rest of ``/admin``. The plaintext key is in the answer to create and regenerate
only (``key``); it is never stored or shown again.
"""

from __future__ import annotations

import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.catalog.api_keys import ApiKeyRecord
from gateway.core import apikeys
from gateway.core.metadata import parse_json_object
from gateway.core.principal import SCOPES
from gateway.core.runtime import Runtime
from gateway.core.timefmt import iso_ms, iso_now, now_us
from gateway.errors import InvalidParameterError
from gateway.http.auth import read_small_body
from gateway.http.credentials import require
from gateway.http.envelope import json_response

SCOPE = "keys:manage"
_KEYS = ("owner", "name", "scopes", "expiresAt")


def key_json(record: ApiKeyRecord) -> dict[str, Any]:
    if record.revoked_at is not None:
        status = "revoked"
    elif record.expires_at is not None and record.expires_at <= now_us():
        status = "expired"
    else:
        status = "active"
    return {
        "id": record.id,
        "prefix": f"{apikeys.PREFIX}{record.id}_",
        "owner": record.owner,
        "name": record.name,
        "scopes": sorted(record.scopes),
        "status": status,
        "createdAt": iso_ms(record.created_at),
        "createdBy": record.created_by,
        "expiresAt": iso_ms(record.expires_at),
        "revokedAt": iso_ms(record.revoked_at),
        "lastUsedAt": iso_ms(record.last_used_at),
    }


def _ok(status: int = 200, **body: Any) -> Response:
    return json_response({"result": "ok", "timestamp": iso_now(), **body}, status=status)


async def _admin(request: Request) -> tuple[Runtime, str, str]:
    rt, principal = await require(request, SCOPE)
    return rt, principal.user, principal.client_address


def parse_expiry(value: object) -> int | None:
    """An ISO 8601 date-time (UTC when no offset is given) as µs since the epoch."""
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidParameterError("expiresAt", "expected an ISO 8601 date-time like 2027-01-31T00:00:00Z")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp() * 1_000_000)


def parse_scopes(value: object) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise InvalidParameterError("scopes", "expected a list of scope names")
    unknown = sorted(set(value) - set(SCOPES))
    if unknown:
        raise InvalidParameterError("scopes", f"unknown scope '{unknown[0]}' (known: {', '.join(SCOPES)})")
    return frozenset(value)


async def create(request: Request) -> Response:
    rt, by, address = await _admin(request)
    document = parse_json_object(await read_small_body(request, 16384))
    unknown = sorted(set(document) - set(_KEYS))
    if unknown:
        raise InvalidParameterError(unknown[0], f"unknown field (known: {', '.join(_KEYS)})")
    owner, name = document.get("owner"), document.get("name")
    if not isinstance(owner, str) or not owner:
        raise InvalidParameterError("owner", "the user or service account that owns the key is required")
    if not isinstance(name, str):
        raise InvalidParameterError("name", "a name for the key is required")
    scopes = parse_scopes(document.get("scopes"))
    expires_at = parse_expiry(document.get("expiresAt"))
    record, plaintext = await apikeys.create(rt, owner, name, scopes, expires_at, by, address)
    return _ok(
        201, message="API key created; store it now, it is not shown again", key=plaintext, apiKey=key_json(record)
    )


async def list_keys(request: Request) -> Response:
    rt, _, _ = await _admin(request)
    owner = request.query_params.get("owner") or None
    if owner is not None and "\0" in owner:
        raise InvalidParameterError("owner", "NUL is not allowed")  # PostgreSQL text cannot hold it
    found = await apikeys.search(rt, owner)
    return _ok(total=len(found), apiKeys=[key_json(r) for r in found])


async def get_key(request: Request) -> Response:
    rt, _, _ = await _admin(request)
    return _ok(apiKey=key_json(await apikeys.get(rt, request.path_params["key_id"])))


async def revoke(request: Request) -> Response:
    rt, by, address = await _admin(request)
    record = await apikeys.revoke(rt, request.path_params["key_id"], by, address)
    return _ok(message="API key revoked", apiKey=key_json(record))


async def regenerate(request: Request) -> Response:
    rt, by, address = await _admin(request)
    record, plaintext = await apikeys.regenerate(rt, request.path_params["key_id"], by, address)
    return _ok(message="API key regenerated; the old secret no longer works", key=plaintext, apiKey=key_json(record))


ROUTES: list[BaseRoute] = [
    Route("/admin/api-keys", list_keys, methods=["GET"], name="admin:api-keys"),
    Route("/admin/api-keys", create, methods=["POST"], name="admin:api-key-create"),
    Route("/admin/api-keys/{key_id}", get_key, methods=["GET"], name="admin:api-key"),
    Route("/admin/api-keys/{key_id}/revoke", revoke, methods=["POST"], name="admin:api-key-revoke"),
    Route("/admin/api-keys/{key_id}/regenerate", regenerate, methods=["POST"], name="admin:api-key-regenerate"),
]
