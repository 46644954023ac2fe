"""OpenAPI fragment: task definitions and schedules in the admin API (gateway/http/admin_tasks.py)."""

from __future__ import annotations

from typing import Any

from gateway.openapi.common import (
    AGREEMENT_ENDED,
    CALLER,
    RATE_LIMITED,
    SERVER_ERROR,
    TIMESTAMP,
    UNAUTHENTICATED,
    error,
    json_content,
    responses,
)

_ERRORS = (
    UNAUTHENTICATED,
    error(403, "`authorization`: the caller lacks the scope `runs:read` (admins and operators have it)."),
    AGREEMENT_ENDED,
    RATE_LIMITED,
    SERVER_ERROR,
)
_TIME_OR_EMPTY = {"type": "string", "description": "UTC, ISO 8601 with milliseconds and `Z`; empty when unset."}


def _listing(name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["result", "timestamp", name],
        "properties": {
            "result": {"const": "ok"},
            "timestamp": TIMESTAMP,
            name: {"type": "array", "items": item},
        },
    }


_TASK = {
    "type": "object",
    "required": ["name", "version", "origin", "createdAt", "definition"],
    "properties": {
        "name": {"type": "string"},
        "version": {"type": "integer"},
        "origin": {"type": "string", "description": "`config` (tasks.yaml) or the API that created it."},
        "createdAt": _TIME_OR_EMPTY,
        "definition": {"type": "object"},
    },
}
_SCHEDULE = {
    "type": "object",
    "required": ["name", "task", "cron", "timezone", "enabled", "misfire", "nextFireAt", "lastFireAt", "lastRunId"],
    "properties": {
        "name": {"type": "string"},
        "task": {"type": "string"},
        "cron": {"type": "string"},
        "timezone": {"type": "string"},
        "enabled": {"type": "boolean"},
        "misfire": {"type": "string"},
        "nextFireAt": _TIME_OR_EMPTY,
        "lastFireAt": _TIME_OR_EMPTY,
        "lastRunId": {"type": ["string", "null"]},
    },
}

PATHS: dict[str, Any] = {
    "/admin/tasks": {
        "get": {
            "tags": ["admin"],
            "summary": "The latest version of every task (from tasks.yaml or created through an API)",
            "operationId": "listTasks",
            "security": CALLER,
            "responses": responses(
                {
                    "200": {
                        "description": "Every task's latest version.",
                        "content": json_content(_listing("tasks", _TASK)),
                    }
                },
                *_ERRORS,
            ),
        }
    },
    "/admin/schedules": {
        "get": {
            "tags": ["admin"],
            "summary": "Every schedule with its next and last fire times and the last tick's run",
            "operationId": "listSchedules",
            "security": CALLER,
            "responses": responses(
                {
                    "200": {
                        "description": "Every schedule of tasks.yaml.",
                        "content": json_content(_listing("schedules", _SCHEDULE)),
                    }
                },
                *_ERRORS,
            ),
        }
    },
}
