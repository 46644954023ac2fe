"""OpenAPI fragment: task definitions and schedules in the admin API (gateway/http/admin_tasks.py)."""

from __future__ import annotations

from typing import Any

_ERRORS: dict[str, Any] = {
    "401": {"description": "Not authenticated (the /2.0 error envelope)"},
    "403": {"description": "Missing scope runs:read (the /2.0 error envelope)"},
}

PATHS: dict[str, Any] = {
    "/admin/tasks": {
        "get": {
            "tags": ["admin"],
            "summary": "The latest version of every task (from tasks.yaml or created through an API)",
            "responses": {
                "200": {
                    "description": "result, timestamp and tasks: name, version, origin, createdAt, definition",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **_ERRORS,
            },
        }
    },
    "/admin/schedules": {
        "get": {
            "tags": ["admin"],
            "summary": "Every schedule with its next and last fire times and the last tick's run",
            "responses": {
                "200": {
                    "description": "result, timestamp and schedules: name, task, cron, timezone, enabled, misfire, "
                    "nextFireAt, lastFireAt, lastRunId",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **_ERRORS,
            },
        }
    },
}
