"""OpenAPI fragment: the abuse-control admin API (``/admin/bans``, ``/admin/audit``).

Served by ``gateway/http/admin_security.py``; callers need an admin's session, bearer token or
API key (gateway/http/credentials.py).
Every answer may carry the rate-limit headers of the ``authenticated`` class.
"""

from __future__ import annotations

from typing import Any

from gateway.openapi.common import (
    AGREEMENT_ENDED,
    CALLER,
    RATE_HEADERS,
    RATE_LIMITED,
    SERVER_ERROR,
    error,
    json_content,
    ref,
    responses,
)

_REF = "#/components/schemas/"
_TIMESTAMP = {"type": "string", "format": "date-time", "description": "UTC, ISO 8601 with milliseconds and Z"}


def _error(status: int, description: str) -> dict[str, Any]:
    return error(status, description, RATE_HEADERS)


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "headers": RATE_HEADERS, "content": json_content(ref(schema))}


_COMMON_ERRORS: dict[str, Any] = responses(
    _error(401, "No valid credential (errorType authentication)"),
    _error(403, "The caller is not an admin, or its credential lacks the scope (errorType authorization)"),
    AGREEMENT_ENDED,
    RATE_LIMITED,
    SERVER_ERROR,
)
_SECURITY = CALLER


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


PATHS: dict[str, Any] = {
    "/admin/bans": {
        "get": {
            "operationId": "listBans",
            "tags": ["admin: abuse control"],
            "summary": "The brute-force bans in force, on every peer",
            "security": _SECURITY,
            "responses": {"200": _ok("The bans in force, oldest first", "BanList"), **_COMMON_ERRORS},
        }
    },
    "/admin/bans/{kind}/{value}": {
        "delete": {
            "operationId": "liftBan",
            "tags": ["admin: abuse control"],
            "summary": "Lift a ban (on every peer within about a second) and forget its failure score",
            "security": _SECURITY,
            "parameters": [
                {
                    "name": "kind",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": ["address", "account"]},
                },
                {
                    "name": "value",
                    "in": "path",
                    "required": True,
                    "description": "The banned client address or account name",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                },
            ],
            "responses": {
                "200": _ok("The ban was lifted", "BanLifted"),
                **_error(400, "Unknown kind or invalid value (errorType request_syntax)"),
                **_error(404, "No ban in force for it (errorType io)"),
                **_COMMON_ERRORS,
            },
        }
    },
    "/admin/audit": {
        "get": {
            "operationId": "listAuditEvents",
            "tags": ["admin: abuse control"],
            "summary": "The audit trail of credential events, newest first",
            "security": _SECURITY,
            "parameters": [
                _query("event", "Only this event (login.ok, login.failed, ban.added, ...)", {"type": "string"}),
                _query("principal", "Only events of this principal (user or claimed account)", {"type": "string"}),
                _query("address", "Only events from this client address", {"type": "string"}),
                _query("since", "Only events at or after this time (with a time zone)", {"type": "string"}),
                _query("until", "Only events before this time (with a time zone)", {"type": "string"}),
                _query("limit", "Page size", {"type": "integer", "minimum": 0, "maximum": 1000, "default": 100}),
                _query("start", "Events to skip", {"type": "integer", "minimum": 0, "default": 0}),
            ],
            "responses": {
                "200": _ok("One page of matching events and their total", "AuditEventList"),
                **_error(400, "A filter or paging parameter is invalid (errorType request_syntax)"),
                **_COMMON_ERRORS,
            },
        }
    },
}

SCHEMAS: dict[str, Any] = {
    "Ban": {
        "type": "object",
        "required": ["kind", "value", "bannedAt", "until", "retryAfter", "score"],
        "properties": {
            "kind": {"type": "string", "enum": ["address", "account", "other"]},
            "value": {"type": "string", "description": "The client address or the account name"},
            "bannedAt": _TIMESTAMP,
            "until": _TIMESTAMP,
            "retryAfter": {"type": "integer", "minimum": 0, "description": "Seconds until the ban ends"},
            "score": {"type": "integer", "description": "The failure score that started the ban"},
        },
        "additionalProperties": False,
    },
    "BanList": {
        "type": "object",
        "required": ["result", "timestamp", "total", "bans"],
        "properties": {
            "result": {"const": "ok"},
            "timestamp": _TIMESTAMP,
            "total": {"type": "integer", "minimum": 0},
            "bans": {"type": "array", "items": {"$ref": _REF + "Ban"}},
        },
        "additionalProperties": False,
    },
    "BanLifted": {
        "type": "object",
        "required": ["result", "timestamp", "message", "ban"],
        "properties": {
            "result": {"const": "ok"},
            "timestamp": _TIMESTAMP,
            "message": {"type": "string"},
            "ban": {"$ref": _REF + "Ban"},
        },
        "additionalProperties": False,
    },
    "AuditEvent": {
        "type": "object",
        "required": ["id", "time", "event", "principal", "address", "detail"],
        "properties": {
            "id": {"type": "string", "description": "Increasing decimal id"},
            "time": _TIMESTAMP,
            "event": {"type": "string"},
            "principal": {"type": ["string", "null"]},
            "address": {"type": ["string", "null"]},
            "detail": {"type": "object", "description": "Event-specific facts; never a secret"},
        },
        "additionalProperties": False,
    },
    "AuditEventList": {
        "type": "object",
        "required": ["result", "timestamp", "total", "events"],
        "properties": {
            "result": {"const": "ok"},
            "timestamp": _TIMESTAMP,
            "total": {"type": "integer", "minimum": 0},
            "events": {"type": "array", "items": {"$ref": _REF + "AuditEvent"}},
        },
        "additionalProperties": False,
    },
}
