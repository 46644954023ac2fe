"""OpenAPI fragment: seed 000's Automate MFT API (``/v1``, gateway/http/automate.py)."""

from __future__ import annotations

from typing import Any

from gateway.openapi.common import API_KEY, BEARER, PUBLIC, RATE_HEADERS, RETRY_AFTER, SESSION

_SECURITY: list[dict[str, list[str]]] = BEARER + API_KEY + SESSION
_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/AutomateError"}}}}
_RUN = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/TaskRun"}}}}
_COMMON: dict[str, Any] = {
    "401": {"description": "No credential (`unauthenticated`)", **_ERROR},
    "403": {
        "description": "Invalid or expired token (`invalid_token`: get a new token) or a missing scope (`forbidden`)",
        **_ERROR,
    },
    "429": {
        "description": "Busy (`busy`) or rate limited (`rate_limited`): retry after Retry-After seconds",
        "headers": {**RETRY_AFTER, **RATE_HEADERS},
        **_ERROR,
    },
    "500": {"description": "An unforeseen failure (`error`); details only in the log", **_ERROR},
}
_ASSERTION: dict[str, Any] = {
    "schema": {
        "type": "object",
        "required": ["grant_type", "client_assertion_type", "client_assertion"],
        "properties": {
            "grant_type": {"const": "client_credentials"},
            "client_assertion_type": {"const": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
            "client_assertion": {"type": "string"},
            "scope": {"type": "string"},
        },
    }
}
_OAUTH_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthError"}}}}

PATHS: dict[str, Any] = {
    "/v1/oauth/token": {
        "post": {
            "tags": ["automate"],
            "summary": "Access token for a private_key_jwt client assertion (aud = this URL); JSON or form body",
            "operationId": "automateToken",
            "security": PUBLIC,
            "requestBody": {
                "required": True,
                "content": {"application/json": _ASSERTION, "application/x-www-form-urlencoded": _ASSERTION},
            },
            "responses": {
                "200": {
                    "description": "RFC 6749 token answer",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthToken"}}},
                },
                "400": {
                    "description": "RFC 6749 error (invalid_request, unsupported_grant_type, invalid_scope)",
                    **_OAUTH_ERROR,
                },
                "401": {"description": "RFC 6749 invalid_client: the assertion was refused", **_OAUTH_ERROR},
                "410": {
                    "description": "invalid_grant: the agreement of the client's principal has ended",
                    **_OAUTH_ERROR,
                },
                "429": {
                    "description": "temporarily_unavailable: rate limited or banned",
                    "headers": {**RETRY_AFTER, **RATE_HEADERS},
                    **_OAUTH_ERROR,
                },
            },
        }
    },
    "/v1/licenses/current": {
        "get": {
            "tags": ["automate"],
            "summary": "The plan (tasks.yaml plan:) and this period's usage counters",
            "operationId": "automateLicense",
            "security": _SECURITY,
            "responses": {
                "200": {
                    "description": "Plan and usage",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/License"}}},
                },
                **_COMMON,
            },
        }  # fmt: skip
    },
    "/v1/tasks/{id}/start": {
        "post": {
            "tags": ["automate"],
            "summary": "Start the task named id now; the JSON body overrides its parameters",
            "operationId": "automateStartTask",
            "security": _SECURITY,
            "parameters": [
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "examples": {"task": {"value": "nightly-report"}},
                }
            ],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {
                "200": {"description": "The queued run", **_RUN},
                "400": {"description": "Unknown parameter or bad body", **_ERROR},
                "413": {"description": "The body exceeds 64 KiB (`too_large`)", **_ERROR},
                "404": {"description": "Unknown task or missing input file", **_ERROR},
                **_COMMON,
            },
        }
    },
    "/v1/task-runs/{id}": {
        "get": {
            "tags": ["automate"],
            "summary": "A task run: status.taskRunStatus (queued, running, success, failed, canceled) and steps",
            "operationId": "automateTaskRun",
            "security": _SECURITY,
            "parameters": [
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "examples": {"run": {"value": "1"}},
                }
            ],
            "responses": {
                "200": {"description": "The run", **_RUN},
                "404": {"description": "Unknown run", **_ERROR},
                **_COMMON,
            },
        }  # fmt: skip
    },
}

SCHEMAS: dict[str, Any] = {
    "AutomateError": {
        "type": "object",
        "required": ["message", "code"],
        "properties": {"message": {"type": "string"}, "code": {"type": "string"}},
    },
    "TaskRun": {
        "type": "object",
        "required": ["id", "taskId", "status"],
        "properties": {
            "id": {"type": "string"},
            "taskId": {"type": "string"},
            "taskVersion": {"type": ["integer", "null"]},
            "trigger": {"type": "string", "enum": ["api", "schedule", "event", "manual"]},
            "params": {"type": "object", "additionalProperties": {"type": "string"}},
            "status": {
                "type": "object",
                "properties": {
                    "taskRunStatus": {"type": "string", "enum": ["queued", "running", "success", "failed", "canceled"]},
                    "detail": {"type": "string"},
                    "abortRequested": {"type": "boolean"},
                },
            },
            "steps": {"type": "array", "items": {"type": "object"}},
            "createdAt": {"type": "string"},
            "startedAt": {"type": ["string", "null"]},
            "finishedAt": {"type": ["string", "null"]},
        },
    },
    "License": {
        "type": "object",
        "properties": {
            "tenantId": {"type": "string"},
            "plan": {"type": "object"},
            "period": {"type": "object", "properties": {"start": {"type": "string"}, "end": {"type": "string"}}},
            "usage": {
                "type": "object",
                "properties": {
                    k: {"type": "integer"} for k in ("taskExecutions", "filesIn", "bytesIn", "filesOut", "bytesOut")
                },
            },  # fmt: skip
            "limits": {"type": "object"},
        },
    },
}
