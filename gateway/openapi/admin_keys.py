"""OpenAPI fragment: the admin API for API keys (``/admin/api-keys``)."""

from __future__ import annotations

from typing import Any

from gateway.core.principal import SCOPES
from gateway.openapi.common import AGREEMENT_ENDED, BODY_TIMEOUT, CALLER, RATE_LIMITED, SERVER_ERROR, error, responses

_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _envelope(**fields: Any) -> dict[str, Any]:
    required = ["result", "timestamp", *fields]
    props = {"result": {"const": "ok"}, "timestamp": {"type": "string"}, **fields}
    return {"type": "object", "required": required, "properties": props}


_ERRORS = responses(
    error(401, "`authentication`: no credential, or an expired or revoked one."),
    error(403, "`authorization`: the caller lacks the scope `keys:manage` (admins have it)."),
    AGREEMENT_ENDED,
    RATE_LIMITED,
    SERVER_ERROR,
)
_NOT_FOUND = error(404, "`io`: no API key with this id.")
_ID = [{"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}]
_WITH_SECRET = _envelope(message={"type": "string"}, key={"type": "string"}, apiKey=_ref("ApiKey"))

PATHS: dict[str, Any] = {
    "/admin/api-keys": {
        "get": {
            "tags": ["admin"],
            "summary": "List API keys (never their secrets)",
            "operationId": "listApiKeys",
            "security": CALLER,
            "parameters": [{"name": "owner", "in": "query", "schema": {"type": "string"}}],
            "responses": {
                **error(400, "`request_syntax`: the owner filter holds a NUL."),
                "200": _ok(
                    "keys", _envelope(total={"type": "integer"}, apiKeys={"type": "array", "items": _ref("ApiKey")})
                ),
                **_ERRORS,
            },
        },
        "post": {
            "tags": ["admin"],
            "summary": "Create an API key; the answer's `key` is shown only this once",
            "operationId": "createApiKey",
            "security": CALLER,
            "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("ApiKeyCreate")}}},
            "responses": {
                "201": _ok("created", _WITH_SECRET),
                **error(400, "`request_syntax`: a bad field (the message names it); nothing created."),
                **BODY_TIMEOUT,
                **error(413, "`limit`: the body exceeds 16 KiB."),
                **_ERRORS,
            },
        },
    },
    "/admin/api-keys/{key_id}": {
        "get": {
            "tags": ["admin"],
            "summary": "One API key",
            "operationId": "getApiKey",
            "security": CALLER,
            "parameters": _ID,
            "responses": {"200": _ok("the key", _envelope(apiKey=_ref("ApiKey"))), **_NOT_FOUND, **_ERRORS},
        }
    },
    "/admin/api-keys/{key_id}/revoke": {
        "post": {
            "tags": ["admin"],
            "summary": "Revoke a key and every token issued from it, on every peer",
            "operationId": "revokeApiKey",
            "security": CALLER,
            "parameters": _ID,
            "responses": {
                "200": _ok("revoked", _envelope(message={"type": "string"}, apiKey=_ref("ApiKey"))),
                **_NOT_FOUND,
                **_ERRORS,
            },
        }
    },
    "/admin/api-keys/{key_id}/regenerate": {
        "post": {
            "tags": ["admin"],
            "summary": "New secret for a live key; the old secret and its tokens stop working",
            "operationId": "regenerateApiKey",
            "security": CALLER,
            "parameters": _ID,
            "responses": {
                "200": _ok("new secret", _WITH_SECRET),
                **error(400, "`request_syntax`: the key is revoked or expired."),
                **_NOT_FOUND,
                **_ERRORS,
            },
        }
    },
}

_TIME = {"type": "string", "description": "ISO 8601 UTC with milliseconds, or empty"}

SCHEMAS: dict[str, Any] = {
    "ApiKey": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "prefix": {"type": "string", "description": "mft_ak_<id>_ (the secret follows)"},
            "owner": {"type": "string"},
            "name": {"type": "string"},
            "scopes": {"type": "array", "items": {"type": "string", "enum": list(SCOPES)}},
            "status": {"type": "string", "enum": ["active", "revoked", "expired"]},
            "createdAt": _TIME,
            "createdBy": {"type": "string"},
            "expiresAt": _TIME,
            "revokedAt": _TIME,
            "lastUsedAt": _TIME,
        },
    },
    "ApiKeyCreate": {
        "type": "object",
        "required": ["owner", "name"],
        "additionalProperties": False,
        "properties": {
            "owner": {"type": "string", "description": "a user or service account"},
            "name": {"type": "string", "minLength": 1, "maxLength": 255},
            "scopes": {"type": "array", "items": {"type": "string", "enum": list(SCOPES)}},
            "expiresAt": {"type": "string", "format": "date-time"},
        },
    },
}
