"""What every fragment shares: the error envelope, the security schemes, and small builders.

A fragment describes an error answer with :func:`error` (``error(404, "...")``) and a JSON body
with :func:`json_content`; operations that need a login use :data:`SESSION` (the two STENG
cookies), :data:`BEARER` or :data:`API_KEY` as their ``security``.
"""

from __future__ import annotations

from typing import Any

from gateway.core.principal import SCOPES

ERROR_TYPES = [
    "request_syntax",
    "configuration",
    "authentication",
    "authorization",
    "io",
    "syntax_error",
    "limit",
    "quota",
    "rate_limit",
    "timeout",
    "server",
]

TIMESTAMP: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
    "description": "UTC, ISO 8601 with milliseconds and `Z`.",
    "examples": ["2020-11-13T08:58:20.680Z"],
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "The error envelope of /2.0 and /admin: every failure, whatever the status.",
        "required": ["result", "timestamp", "message", "errorType"],
        "properties": {
            "result": {"const": "failed"},
            "timestamp": {"$ref": "#/components/schemas/Timestamp"},
            "message": {"type": "string", "description": "Safe to show; never a traceback or OS detail."},
            "errorType": {
                "enum": ERROR_TYPES,
                "description": "`syntax_error` only for DELETE's 400 (as documented by STENG); `limit` 413, "
                "`quota` 507, `rate_limit` 429, `timeout` 408, `server` 500/503.",
            },
        },
        "examples": [
            {
                "result": "failed",
                "timestamp": "2020-11-13T08:58:20.680Z",
                "message": "Invalid username or password",
                "errorType": "authentication",
            }
        ],
    },
    "Timestamp": TIMESTAMP,
    "Ok": {
        "type": "object",
        "description": "Success of a write: a message and, for file operations, the file's version.",
        "required": ["result", "timestamp", "message"],
        "properties": {
            "result": {"const": "ok"},
            "timestamp": {"$ref": "#/components/schemas/Timestamp"},
            "message": {"type": "string"},
            "fileset": {"$ref": "#/components/schemas/Fileset"},
        },
    },
    "Fileset": {
        "type": "string",
        "pattern": "^[0-9]+$",
        "description": "The id of one stored version of a file: a decimal long as a JSON string.",
        "examples": ["251"],
    },
}

SECURITY_SCHEMES: dict[str, Any] = {
    "stengSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "sp-http-ses",
        "description": "The session token set by `POST /2.0/login/basic`; always sent with `sp-http-usr`.",
    },
    "stengUser": {
        "type": "apiKey",
        "in": "cookie",
        "name": "sp-http-usr",
        "description": "The user name of the session (percent-encoded), set by `POST /2.0/login/basic`.",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from `POST /token` or `POST /oauth2/token` (`bearer` in any case).",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key, `mft_ak_<id>_<secret>`.",
    },
    "oauth2": {
        "type": "oauth2",
        "description": "The client credentials grant of `POST /oauth2/token`; the token is sent as `bearer`.",
        "flows": {"clientCredentials": {"tokenUrl": "/oauth2/token", "scopes": {s: s for s in SCOPES}}},
    },
    "oauth2ClientBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "client_secret_basic: an OAuth2 client's id and secret, at `/oauth2/*` only.",
    },
}

SESSION: list[dict[str, list[str]]] = [{"stengSession": [], "stengUser": []}]
"""The STENG session: both cookies in one requirement (either alone is refused)."""
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
API_KEY: list[dict[str, list[str]]] = [{"apiKey": []}]
PUBLIC: list[dict[str, list[str]]] = []
CALLER: list[dict[str, list[str]]] = SESSION + BEARER + API_KEY
"""What /2.0 and /admin accept (gateway/http/credentials.py): any one of the session, a bearer
token or an API key."""


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def error(status: int, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """One status of the error envelope; ``description`` lists its messages and causes."""
    response: dict[str, Any] = {"description": description, "content": json_content(ref("Error"))}
    if headers:
        response["headers"] = headers
    return {str(status): response}


def responses(*parts: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        for status, response in part.items():
            if status in merged:
                raise ValueError(f"OpenAPI: status {status} given twice")
            merged[status] = response
    return merged


RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer", "minimum": 0}}
}
RATE_HEADERS: dict[str, Any] = {
    "X-RateLimit-Limit": {"description": "Requests allowed in the current minute.", "schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"description": "Requests left in the current minute.", "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {
        "description": "End of the current window, in Unix epoch seconds.",
        "schema": {"type": "integer"},
    },
}
"""Sent with every answer that was counted by the rate limiter (gateway/http/ratelimit.py)."""
RATE_LIMITED = error(
    429,
    "Too many requests (`rate_limit`): the caller's rate limit (with the X-RateLimit-* headers) or a "
    "brute-force ban of its address or account.",
    {**RETRY_AFTER, **RATE_HEADERS},
)
SERVER_ERROR = error(500, "An unforeseen failure or a storage I/O error (`server` or `io`); details only in the log.")
UNAUTHENTICATED = error(
    401,
    "`authentication`: no credential, or unknown, expired or mismatched session cookies, or an invalid, "
    "expired or revoked bearer token or API key.",
)
BODY_TIMEOUT = error(408, "`timeout`: the request body stopped arriving for `server.body_idle_seconds`.")
"""Any /2.0 or /admin request with a body (gateway/http/deadline.py); the connection is closed."""
AGREEMENT_ENDED = error(410, "`authorization`: the agreement of the caller's actor has ended.")
FORBIDDEN_SCOPE = error(403, "`authorization`: the caller lacks the scope (or admin role) this operation needs.")
