"""OpenAPI fragment: the admin API for API keys (``/admin/api-keys``)."""

from __future__ import annotations

from typing import Any

from gateway.core.principal import SCOPES

_JSON = "application/json"
_SECURITY: list[dict[str, list[str]]] = [{"BearerToken": []}, {"ApiKey": []}, {"OAuth2": ["keys:manage"]}]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _envelope(**fields: Any) -> dict[str, Any]:
    required = ["result", "timestamp", *fields]
    props = {"result": {"const": "ok"}, "timestamp": {"type": "string"}, **fields}
    return {"type": "object", "required": required, "properties": props}


_ERR = _ok("error envelope", _ref("AdminErrorEnvelope"))
_ERRORS = {
    "401": {**_ERR, "description": "no, expired or revoked credential"},
    "403": {**_ERR, "description": "credential lacks keys:manage"},
    "410": {**_ERR, "description": "the caller's agreement has ended"},
}
_ID = [{"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}]
_WITH_SECRET = _envelope(message={"type": "string"}, key={"type": "string"}, apiKey=_ref("ApiKey"))

PATHS: dict[str, Any] = {
    "/admin/api-keys": {
        "get": {
            "tags": ["admin"],
            "summary": "List API keys (never their secrets)",
            "operationId": "listApiKeys",
            "security": _SECURITY,
            "parameters": [{"name": "owner", "in": "query", "schema": {"type": "string"}}],
            "responses": {
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
            "security": _SECURITY,
            "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("ApiKeyCreate")}}},
            "responses": {
                "201": _ok("created", _WITH_SECRET),
                "400": {**_ERR, "description": "bad field (the message names it); nothing created"},
                **_ERRORS,
            },
        },
    },
    "/admin/api-keys/{key_id}": {
        "get": {
            "tags": ["admin"],
            "summary": "One API key",
            "operationId": "getApiKey",
            "security": _SECURITY,
            "parameters": _ID,
            "responses": {"200": _ok("the key", _envelope(apiKey=_ref("ApiKey"))), "404": _ERR, **_ERRORS},
        }
    },
    "/admin/api-keys/{key_id}/revoke": {
        "post": {
            "tags": ["admin"],
            "summary": "Revoke a key and every token issued from it, on every peer",
            "operationId": "revokeApiKey",
            "security": _SECURITY,
            "parameters": _ID,
            "responses": {
                "200": _ok("revoked", _envelope(message={"type": "string"}, apiKey=_ref("ApiKey"))),
                "404": _ERR,
                **_ERRORS,
            },
        }
    },
    "/admin/api-keys/{key_id}/regenerate": {
        "post": {
            "tags": ["admin"],
            "summary": "New secret for a live key; the old secret and its tokens stop working",
            "operationId": "regenerateApiKey",
            "security": _SECURITY,
            "parameters": _ID,
            "responses": {"200": _ok("new secret", _WITH_SECRET), "400": _ERR, "404": _ERR, **_ERRORS},
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
    "AdminErrorEnvelope": {
        "type": "object",
        "required": ["result", "timestamp", "message", "errorType"],
        "properties": {
            "result": {"const": "failed"},
            "timestamp": {"type": "string"},
            "message": {"type": "string"},
            "errorType": {"type": "string"},
        },
    },
}
