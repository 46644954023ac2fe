"""OpenAPI pieces every ``/api`` (seed 001) fragment shares: the ``{"success": false, "error",
"details"}`` envelope, the paged list, and the error answers in that shape."""

from __future__ import annotations

from typing import Any

from gateway.openapi.common import RATE_HEADERS, RETRY_AFTER, json_content, ref

SCHEMAS: dict[str, Any] = {
    "ApiError": {
        "type": "object",
        "description": "Seed 001's error envelope: every /api failure, whatever the status.",
        "required": ["success", "error"],
        "properties": {
            "success": {"const": False},
            "error": {"type": "string", "description": "Safe to show; never a traceback."},
            "details": {"description": "What was wrong (e.g. `errors`: each problem, with line and column for YAML)"},
        },
    },
    "ApiPagination": {
        "type": "object",
        "required": ["page", "limit", "total", "pages"],
        "properties": {k: {"type": "integer", "minimum": 0} for k in ("page", "limit", "total", "pages")},
    },
}

PAGE_PARAMS: list[dict[str, Any]] = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
]


def api_error(status: int, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": json_content(ref("ApiError"))}
    if headers:
        response["headers"] = headers
    return {str(status): response}


def ok_data(status: int, description: str, data: dict[str, Any]) -> dict[str, Any]:
    body = {"type": "object", "required": ["success", "data"], "properties": {"success": {"const": True}, "data": data}}
    return {str(status): {"description": description, "content": json_content(body)}}


def ok_page(description: str, item: dict[str, Any]) -> dict[str, Any]:
    body = {
        "type": "object",
        "required": ["success", "data", "pagination"],
        "properties": {"success": {"const": True}, "data": {"type": "array", "items": item},
                       "pagination": ref("ApiPagination")},
    }  # fmt: skip
    return {"200": {"description": description, "content": json_content(body)}}


COMMON_ERRORS: dict[str, Any] = {
    **api_error(401, "No credential, or an invalid, expired or revoked token or key"),
    **api_error(429, "Rate limited: retry after Retry-After seconds", {**RETRY_AFTER, **RATE_HEADERS}),
    **api_error(500, "An unforeseen failure; details only in the log"),
}
