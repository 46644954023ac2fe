"""OpenAPI pieces for the ``/api`` (seed 001) jobs and pipelines: paging parameters, the
``{"success": true, "data"}`` answers, and error answers in the ``ApiError`` envelope."""

from __future__ import annotations

from typing import Any

from gateway.openapi.common import RATE_HEADERS, RETRY_AFTER, json_content, ref

# ApiError and ApiPagination are declared with the agents' operations (gateway/openapi/mftplus.py).

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
