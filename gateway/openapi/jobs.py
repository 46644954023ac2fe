"""OpenAPI fragment: seed 004's Automation Services job API (``/rest/as/job``, gateway/http/jobs.py)."""

from __future__ import annotations

from typing import Any

from gateway.core.principal import JOBS_SCOPE as _SCOPE
from gateway.openapi.common import API_KEY, RATE_HEADERS, RETRY_AFTER, SESSION

_SECURITY = [{"oauth2": [_SCOPE]}, *API_KEY, *SESSION]
_STATUS = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ExecutionStatus"}}}}


def _answers(*extra: tuple[str, str]) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "200": {
            "description": "The job's ExecutionStatus (StatusCode Busy: refused, the task is at its concurrency)",
            **_STATUS,
        },
        "400": {"description": "Bad parameters or definition (StatusCode NotSet, Message says why)", **_STATUS},
        "401": {"description": "No valid access token, or the agreement of its owner has ended", **_STATUS},
        "403": {"description": f"The token lacks the scope {_SCOPE}", **_STATUS},
        "413": {"description": "The body exceeds its limit", **_STATUS},
        "429": {"description": "Rate limited", "headers": {**RETRY_AFTER, **RATE_HEADERS}, **_STATUS},
        "500": {"description": "An unforeseen failure; details only in the log", **_STATUS},
    }
    for code, description in extra:
        bare = "no content" in description  # seed 004: an unknown job is a bare 404
        answers[code] = {"description": description, **({} if bare else _STATUS)}
    return answers


_JOB_ID = {
    "name": "jobId",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The run id",
    "examples": {"job": {"value": "1"}},
}
_TASK_EXAMPLES = {"task": {"value": "nightly-report"}}

PATHS: dict[str, Any] = {
    "/rest/as/job/start-library": {
        "post": {
            "tags": ["automation-services"],
            "summary": "Start a task by name (path or id), with optional JSON parameter overrides",
            "operationId": "jobStartLibrary",
            "security": _SECURITY,
            "parameters": [
                {
                    "name": "path",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "The task's name",
                    "examples": _TASK_EXAMPLES,
                },
                {"name": "id", "in": "query", "schema": {"type": "string"}, "description": "The task's name"},
            ],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {"schema": {"type": "object", "additionalProperties": {"type": "string"}}}
                },
            },
            "responses": _answers(("404", "Unknown task or missing input file (StatusCode Missing)")),
        }
    },
    "/rest/as/job/start-content": {
        "post": {
            "tags": ["automation-services"],
            "summary": "Record an inline task definition (YAML or JSON) as a task version and start it",
            "operationId": "jobStartContent",
            "security": _SECURITY,
            "parameters": [{"name": "path", "in": "query", "schema": {"type": "string"}, "description": "Task name"}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/yaml": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "object"}},
                },
            },
            "responses": _answers(("415", "XML (the seed's format) or another media type is not accepted")),
        }
    },
    "/rest/as/job/status/{jobId}": {
        "get": {
            "tags": ["automation-services"],
            "summary": "A job's status",
            "operationId": "jobStatus",
            "security": _SECURITY,
            "parameters": [_JOB_ID],
            "responses": _answers(("404", "Job not found (no content)")),
        }
    },
    "/rest/as/job/abort/{jobId}": {
        "post": {
            "tags": ["automation-services"],
            "summary": "Abort a job: a queued one is Canceled at once, a running one stops (its command killed)",
            "operationId": "jobAbort",
            "security": _SECURITY,
            "parameters": [_JOB_ID, {"name": "reason", "in": "query", "schema": {"type": "string"}}],
            "responses": _answers(("404", "Job not found (no content)")),
        }
    },
}

SCHEMAS: dict[str, Any] = {
    "ExecutionStatus": {
        "type": "object",
        "required": ["JobId", "Message", "StatusCode"],
        "properties": {
            "JobId": {"type": "string"},
            "Message": {"type": "string"},
            "StatusCode": {
                "type": "string",
                "enum": ["NotSet", "Queued", "InProgress", "Finished", "Failed", "Missing", "Busy", "Canceled"],
            },
        },
    }
}
