"""The /2.0 listing endpoints: directories (paged, sorted) and countelements (a bare number)."""

from __future__ import annotations

from typing import Any

from gateway.core.metadata import SYSTEM_ATTRIBUTES
from gateway.openapi.common import (
    AGREEMENT_ENDED,
    CALLER,
    RATE_LIMITED,
    SERVER_ERROR,
    error,
    json_content,
    ref,
    responses,
)
from gateway.openapi.partner import NO_SESSION, PATH_PARAMETER, TAG, forbidden

MISSING_FOLDER = error(404, "`Path doesn't exist` (`io`): the folder is not in the user's VFS.")
_STRING = {"type": "string"}

LISTING_FILTER = {
    "name": "filter",
    "in": "query",
    "description": "Name pattern: `*` matches any run of characters, everything else is literal and case-sensitive.",
    "schema": {"type": "string", "default": "*", "maxLength": 1024},
}
LISTING_TYPE = {
    "name": "type",
    "in": "query",
    "schema": {"enum": ["all", "files", "folders"], "default": "all"},
}


def _list_params() -> list[dict[str, Any]]:
    return [
        LISTING_FILTER,
        {
            "name": "sort",
            "in": "query",
            "description": "Folders sort before files for `name`; files without the date sort last when ascending.",
            "schema": {"enum": ["name", "size", "put_date", "read_date", "expiry_date"], "default": "name"},
        },
        {"name": "direction", "in": "query", "schema": {"enum": ["asc", "desc"], "default": "asc"}},
        {"name": "start", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 0, "maximum": 10000, "default": 500},
        },
        LISTING_TYPE,
        {
            "name": "attributes",
            "in": "query",
            "description": "Comma-separated attribute names for file elements (default: all system attributes; "
            f'{", ".join(SYSTEM_ATTRIBUTES)}); an unknown name renders as `""`. At most 64 names.',
            "schema": {"type": "string"},
        },
    ]


LIST_ERRORS = (
    error(400, "`Invalid parameter '<name>': ...` or `Invalid path...` (`request_syntax`)."),
    NO_SESSION,
    AGREEMENT_ENDED,
    forbidden("list"),
    MISSING_FOLDER,
    RATE_LIMITED,
    SERVER_ERROR,
)


def _directories(operation_id: str, with_path: bool) -> dict[str, Any]:
    params = ([PATH_PARAMETER] if with_path else []) + _list_params()
    return {
        "get": {
            "tags": [TAG],
            "summary": "List a folder" + ("" if with_path else " (the user's root)"),
            "description": "Folders first, then files with the requested attributes. `total` counts every match "
            "before `start`/`limit`. `/2.0/directories/` (empty path) is the user's root too.",
            "operationId": operation_id,
            "security": CALLER,
            "parameters": params,
            "responses": responses(
                {"200": {"description": "The folder's elements.", "content": json_content(ref("Listing"))}},
                *LIST_ERRORS,
            ),
        }
    }


def _countelements(operation_id: str, with_path: bool) -> dict[str, Any]:
    params = ([PATH_PARAMETER] if with_path else []) + [LISTING_FILTER, LISTING_TYPE]
    return {
        "get": {
            "tags": [TAG],
            "summary": "Count a folder's elements" + ("" if with_path else " (the user's root)"),
            "description": "The body is the bare number (as documented by STENG).",
            "operationId": operation_id,
            "security": CALLER,
            "parameters": params,
            "responses": responses(
                {
                    "200": {
                        "description": "How many elements match.",
                        "content": json_content({"type": "integer", "minimum": 0, "examples": [2]}),
                    }
                },
                *LIST_ERRORS,
            ),
        }
    }


PATHS: dict[str, Any] = {
    "/2.0/directories": _directories("listRoot", with_path=False),
    "/2.0/directories/{path}": _directories("listFolder", with_path=True),
    "/2.0/countelements": _countelements("countRoot", with_path=False),
    "/2.0/countelements/{path}": _countelements("countFolder", with_path=True),
}

SCHEMAS: dict[str, Any] = {
    "Listing": {
        "type": "object",
        "required": ["result", "timestamp", "path", "start", "limit", "total", "elements"],
        "properties": {
            "result": {"const": "ok"},
            "timestamp": ref("Timestamp"),
            "path": {"type": "string", "description": "The folder listed, relative to the user's root."},
            "start": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 0},
            "total": {"type": "integer", "minimum": 0},
            "elements": {"type": "array", "items": {"oneOf": [ref("FolderElement"), ref("FileElement")]}},
        },
    },
    "FolderElement": {
        "type": "object",
        "required": ["name", "type"],
        "properties": {"name": _STRING, "type": {"const": "folder"}},
        "additionalProperties": False,
    },
    "FileElement": {
        "type": "object",
        "required": ["name", "type", "fileset"],
        "properties": {"name": _STRING, "type": {"const": "file"}, "fileset": ref("Fileset")},
        "additionalProperties": _STRING,
    },
}
