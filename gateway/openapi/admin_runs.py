"""The /admin API: runs of contract actions (``gateway/http/admin.py``), for users with ``admin: true``."""

from __future__ import annotations

from typing import Any

from gateway.openapi.common import (
    AGREEMENT_ENDED,
    BODY_TIMEOUT,
    CALLER,
    RATE_LIMITED,
    SERVER_ERROR,
    UNAUTHENTICATED,
    error,
    json_content,
    ref,
    responses,
)

TAG = "Admin: action runs"
FORBIDDEN = error(
    403, "`Admin permission required` (`authorization`): not an admin, or a credential without the scope."
)
RUN_ID = {
    "name": "run_id",
    "in": "path",
    "required": True,
    "description": "A run id (decimal, at most 18 digits).",
    "schema": {"type": "string"},
    "examples": {"run": {"value": "1"}},
}
BAD_ID = error(400, "`Invalid parameter 'id': expected a run id` (`request_syntax`).")
NO_RUN = error(404, "`Run '<id>' doesn't exist` (`io`).")
_COMMON = (UNAUTHENTICATED, AGREEMENT_ENDED, FORBIDDEN, RATE_LIMITED, SERVER_ERROR)


def _ok(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "allOf": [
            ref("AdminOk"),
            {"type": "object", "required": [name], "properties": {name: schema}},
        ]
    }


def _run_change(operation_id: str, summary: str, refused: str) -> dict[str, Any]:
    return {
        "post": {
            "tags": [TAG],
            "summary": summary,
            "operationId": operation_id,
            "security": CALLER,
            "parameters": [RUN_ID],
            "responses": responses(
                {
                    "200": {
                        "description": "The run as it is now.",
                        "content": json_content(_ok("run", ref("RunDetail"))),
                    }
                },
                error(400, f"{refused} or a malformed id (`request_syntax`)."),
                *_COMMON,
                NO_RUN,
            ),
        }
    }


def _integer_query(name: str, maximum: int, default: int | None, description: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": maximum}
    if default is not None:
        schema["default"] = default
    return {"name": name, "in": "query", "description": description, "schema": schema}


PATHS: dict[str, Any] = {
    "/admin/runs": {
        "get": {
            "tags": [TAG],
            "summary": "Search runs, newest first",
            "operationId": "listRuns",
            "security": CALLER,
            "parameters": [
                {"name": "contract", "in": "query", "schema": {"type": "string"}},
                {"name": "status", "in": "query", "schema": ref("RunStatus")},
                _integer_query("fileset", 2**62, None, "Runs about this file version."),
                {"name": "dead", "in": "query", "schema": {"enum": ["true", "false"]}},
                _integer_query("limit", 1000, 100, "Page size."),
                _integer_query("start", 2**62, 0, "How many to skip."),
            ],
            "responses": responses(
                {
                    "200": {
                        "description": "`total` matching runs and one page of them.",
                        "content": json_content(
                            {
                                "allOf": [
                                    ref("AdminOk"),
                                    {
                                        "type": "object",
                                        "required": ["total", "runs"],
                                        "properties": {
                                            "total": {"type": "integer", "minimum": 0},
                                            "runs": {"type": "array", "items": ref("Run")},
                                        },
                                    },
                                ]
                            }
                        ),
                    }
                },
                error(400, "`Invalid parameter '<name>': ...` (`request_syntax`)."),
                *_COMMON,
            ),
        }
    },
    "/admin/runs/{run_id}": {
        "get": {
            "tags": [TAG],
            "summary": "One run with its event",
            "operationId": "getRun",
            "security": CALLER,
            "parameters": [RUN_ID],
            "responses": responses(
                {"200": {"description": "The run.", "content": json_content(_ok("run", ref("RunDetail")))}},
                BAD_ID,
                *_COMMON,
                NO_RUN,
            ),
        }
    },
    "/admin/runs/{run_id}/abort": _run_change(
        "abortRun",
        "Cancel a queued run, or ask the peer running it to stop",
        "`Run '<id>' is <status> and cannot be aborted`",
    ),
    "/admin/runs/{run_id}/retry": _run_change(
        "retryRun",
        "Queue a Failed or Canceled run again",
        "`Run '<id>' is <status>; only Failed or Canceled runs can be retried`",
    ),
    "/admin/contracts/{contract}/actions/{action}/run": {
        "post": {
            "tags": [TAG],
            "summary": "Run a contract's action now",
            "description": "Queues one manual run, with `params` over the action's defaults and, when `path` is "
            "given, about that file of the contract's VFS.",
            "operationId": "startRun",
            "security": CALLER,
            "parameters": [
                {
                    "name": "contract",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "examples": {"contract": {"value": "partner5-http"}},
                },
                {
                    "name": "action",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "examples": {"action": {"value": "notify-erp"}},
                },
            ],
            "requestBody": {
                "required": False,
                "content": json_content(
                    {
                        "type": "object",
                        "properties": {
                            "params": {
                                "type": "object",
                                "additionalProperties": {"type": ["string", "number", "boolean"]},
                            },
                            "path": {"type": "string", "description": "A file of the VFS, e.g. `/inbox/a.csv`."},
                        },
                        "examples": [{"params": {"priority": "high"}, "path": "/report.csv"}],
                    }
                ),
            },
            "responses": responses(
                {"201": {"description": "`Run queued`.", "content": json_content(_ok("run", ref("RunDetail")))}},
                error(
                    400,
                    "`Missing parameters or syntax error` (not a JSON object), `'params' must be an object of "
                    "scalar values`, `'path' must be a string` or an invalid path (`request_syntax`).",
                ),
                *_COMMON,
                error(404, "`Action '<a>' of contract '<c>' doesn't exist` or `File '<path>' doesn't exist` (`io`)."),
                BODY_TIMEOUT,
                error(413, "The body exceeds 64 KiB (`limit`)."),
            ),
        }
    },
}

_TIME_OR_EMPTY = {"type": "string", "description": 'ISO 8601 with milliseconds, or `""` when not (yet) set.'}

_RUN_PROPERTIES: dict[str, Any] = {
    "id": {"type": "string", "pattern": "^[0-9]+$"},
    "eventId": {"type": "string", "pattern": "^[0-9]+$"},
    "contract": {"type": "string"},
    "action": {"type": "string"},
    "kind": {"type": "string", "description": "`webhook`, `command` or `route` (a contract action), or `task`."},
    "status": ref("RunStatus"),
    "dead": {"type": "boolean", "description": "Failed after its last attempt (dead-lettered)."},
    "attempts": {"type": "integer", "minimum": 0},
    "maxAttempts": {"type": "integer", "minimum": 0},
    "manual": {"type": "boolean"},
    "params": {"type": "object", "additionalProperties": {"type": "string"}},
    "fileset": {"oneOf": [ref("Fileset"), {"type": "null"}]},
    "createdAt": _TIME_OR_EMPTY,
    "startedAt": _TIME_OR_EMPTY,
    "finishedAt": _TIME_OR_EMPTY,
    "nextAttemptAt": {**_TIME_OR_EMPTY, "description": "Set while Queued."},
    "abortRequested": {"type": "boolean"},
    "lastError": {"type": "string"},
    "output": {"type": "string"},
    "history": {"type": "array", "items": {"type": "object"}},
}

SCHEMAS: dict[str, Any] = {
    "AdminOk": {
        "type": "object",
        "required": ["result", "timestamp"],
        "properties": {"result": {"const": "ok"}, "timestamp": ref("Timestamp"), "message": {"type": "string"}},
    },
    "RunStatus": {"enum": ["Queued", "InProgress", "Finished", "Failed", "Canceled"]},
    "Run": {
        "type": "object",
        "required": list(_RUN_PROPERTIES),
        "properties": _RUN_PROPERTIES,
    },
    "RunDetail": {
        "allOf": [
            ref("Run"),
            {"type": "object", "required": ["event"], "properties": {"event": ref("ActionEvent")}},
        ]
    },
    "ActionEvent": {
        "type": "object",
        "description": "The event as actions receive it (docs/hooks.md).",
        "required": ["id", "type", "time", "actor", "user", "path", "metadata"],
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string", "description": "`upload`, `download`, `delete`, `metadata`, `manual`..."},
            "time": {"type": "string"},
            "actor": {"type": "string"},
            "user": {"type": "string"},
            "protocol": {"type": "string"},
            "contract": {"type": "string"},
            "vfs": {"type": "string"},
            "path": {"type": "string"},
            "folder": {"type": "string"},
            "name": {"type": "string"},
            "fileset": {"type": ["string", "null"]},
            "size": {"type": ["integer", "null"]},
            "sha256": {"type": ["string", "null"]},
            "clientAddress": {"type": "string"},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            "routeChain": {"type": "array", "items": {"type": "string"}},
        },
    },
}
