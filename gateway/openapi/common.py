"""What every fragment shares: the error envelope, the security schemes, and small builders.

A fragment describes an error answer with :func:`error` (``error(404, "...")``) and a JSON body
with :func:`json_content`; operations that need a login use :data:`SESSION` (the two STENG
cookies), :data:`BEARER` or :data:`API_KEY` as their ``security``.
"""

from __future__ import annotations

from typing import Any

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
                "`quota` 507, `rate_limit` 429, `server` 500/503.",
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
}

SESSION: list[dict[str, list[str]]] = [{"stengSession": [], "stengUser": []}]
"""The STENG session: both cookies in one requirement (either alone is refused)."""
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
API_KEY: list[dict[str, list[str]]] = [{"apiKey": []}]
PUBLIC: list[dict[str, list[str]]] = []
CALLER: list[dict[str, list[str]]] = SESSION
"""What /2.0 and /admin accept today: the session. When they also take bearer tokens and API
keys, this becomes ``SESSION + BEARER + API_KEY`` (any one of them) for all their operations."""


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
RATE_LIMITED = error(429, "Too many requests (`rate_limit`): rate limit or brute-force ban.", RETRY_AFTER)
SERVER_ERROR = error(500, "An unforeseen failure or a storage I/O error (`server` or `io`); details only in the log.")
UNAUTHENTICATED = error(
    401,
    "`Invalid username or password` (`authentication`): no, unknown, expired or mismatched session cookies.",
)
