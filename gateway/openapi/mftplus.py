"""OpenAPI fragment: seed 001's ``/api`` health, agents and transfers (gateway/http/mftplus/,
docs/mftplus.md). Errors are ``ApiError``, this API's own envelope."""

from __future__ import annotations

from typing import Any

from gateway.openapi.common import API_KEY, BEARER, CALLER, PUBLIC, RATE_HEADERS, RETRY_AFTER, json_content, ref

_ERRORS = {
    400: "Bad input: a field, query parameter or body that is not what is expected (nothing is written)",
    401: "No valid credential (or an agent's key where the operation needs one), or a disabled agent",
    403: "The credential may not do this (an admin-only change, a key that is not an agent's, spent enrollment)",
    404: "Unknown id, or one of another partner (the same answer, so ids leak nothing)",
    409: "The record's state refuses the change (a finished transfer, a disabled agent)",
    410: "The agreement of the caller's actor has ended",
    413: "The body exceeds 64 KiB",
    429: "Rate limited (seed 001 tiers: public 10, authenticated 60, agent 300 per minute)",
    500: "An unforeseen failure; details only in the log",
}


def _answers(ok: int, body: dict[str, Any], *codes: int) -> dict[str, Any]:
    answers: dict[str, Any] = {
        str(ok): {"description": "Success", "headers": RATE_HEADERS, "content": json_content(body)}
    }
    for code in (*codes, 401, 410, 429, 500):
        answer: dict[str, Any] = {"description": _ERRORS[code], "content": json_content(ref("ApiError"))}
        if code == 429:
            answer["headers"] = {**RETRY_AFTER, **RATE_HEADERS}
        answers[str(code)] = answer
    return answers


def _data(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success", "data"],
        "properties": {"success": {"const": True}, "data": schema},
    }


def _page(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success", "data", "pagination"],
        "properties": {
            "success": {"const": True},
            "data": {"type": "array", "items": ref(item)},
            "pagination": ref("ApiPagination"),
        },
    }


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": json_content(schema)}


_PAGING = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}, "description": "From 1"},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
]
_STATUS_FILTER = {"name": "status", "in": "query", "schema": ref("ApiTransferStatus")}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_AGENT = API_KEY
_USER = CALLER
_TAGS = ["mftplus"]
_TEXT = {"type": "string", "maxLength": 255}

PATHS: dict[str, Any] = {
    "/api/health": {
        "get": {
            "tags": _TAGS, "summary": "Liveness, without authentication", "operationId": "apiHealth",
            "security": PUBLIC,
            "responses": {"200": {"description": "Up", "content": json_content(ref("ApiHealth"))}},
        }
    },
    "/api/agents/register": {
        "post": {
            "tags": _TAGS, "operationId": "apiRegisterAgent",
            "summary": "Register an agent: a customer's credential, or customerIdentifier (an enrollment id)",
            "security": [{}, *BEARER, *_USER],
            "requestBody": _body(ref("ApiAgentRegistration")),
            "responses": _answers(201, _data(ref("ApiRegistered")), 400, 403, 413),
        }
    },
    "/api/agents/heartbeat": {
        "post": {
            "tags": _TAGS, "operationId": "apiAgentHeartbeat", "summary": "An agent says it is alive",
            "security": _AGENT,
            "requestBody": _body(ref("ApiHeartbeat")),
            "responses": _answers(200, _data(ref("ApiAgent")), 400, 403, 413),
        }
    },
    "/api/agents": {
        "get": {
            "tags": _TAGS, "operationId": "apiListAgents", "summary": "The agents the caller may see",
            "security": _USER, "parameters": _PAGING,
            "responses": _answers(200, _page("ApiAgent"), 400),
        }
    },
    "/api/agents/{id}": {
        "get": {
            "tags": _TAGS, "operationId": "apiGetAgent", "summary": "One agent", "security": _USER,
            "parameters": [_ID], "responses": _answers(200, _data(ref("ApiAgent")), 404),
        },
        "patch": {
            "tags": _TAGS, "operationId": "apiPatchAgent",
            "summary": "Admin: disable an agent (its key is refused at once, and revoked)",
            "security": _USER, "parameters": [_ID],
            "requestBody": _body({"type": "object", "required": ["enabled"], "additionalProperties": False,
                                  "properties": {"enabled": {"type": "boolean"}}}),
            "responses": _answers(200, _data(ref("ApiAgent")), 400, 403, 404, 409, 413),
        },
    },
    "/api/agents/{id}/transfers": {
        "get": {
            "tags": _TAGS, "operationId": "apiAgentTransfers", "summary": "An agent's transfers, newest first",
            "security": _USER, "parameters": [_ID, *_PAGING, _STATUS_FILTER],
            "responses": _answers(200, _page("ApiTransfer"), 400, 404),
        }
    },
    "/api/transfers": {
        "post": {
            "tags": _TAGS, "operationId": "apiCreateTransfer", "summary": "An agent reports a new transfer",
            "security": _AGENT, "requestBody": _body(ref("ApiNewTransfer")),
            "responses": _answers(201, _data(ref("ApiTransfer")), 400, 403, 413),
        },
        "get": {
            "tags": _TAGS, "operationId": "apiListTransfers", "summary": "Transfers the caller may see, newest first",
            "security": _USER,
            "parameters": [
                *_PAGING, _STATUS_FILTER,
                {"name": "agentId", "in": "query", "schema": {"type": "string"}},
                {"name": "partner", "in": "query", "schema": {"type": "string"}},
                {"name": "from", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                {"name": "to", "in": "query", "schema": {"type": "string", "format": "date-time"}},
            ],
            "responses": _answers(200, _page("ApiTransfer"), 400),
        },
    },
    "/api/transfers/{id}": {
        "get": {
            "tags": _TAGS, "operationId": "apiGetTransfer", "summary": "One transfer", "security": _USER,
            "parameters": [_ID], "responses": _answers(200, _data(ref("ApiTransfer")), 404),
        },
        "patch": {
            "tags": _TAGS, "operationId": "apiPatchTransfer", "summary": "An agent updates its own transfer",
            "security": _AGENT, "parameters": [_ID], "requestBody": _body(ref("ApiTransferChange")),
            "responses": _answers(200, _data(ref("ApiTransfer")), 400, 403, 404, 409, 413),
        },
    },
}  # fmt: skip

_NULL_TIME = {"type": ["string", "null"], "format": "date-time"}
_COUNT = {"type": "integer", "minimum": 0}

SCHEMAS: dict[str, Any] = {
    "ApiError": {
        "type": "object",
        "description": "The error envelope of /api (seed 001).",
        "required": ["success", "error"],
        "properties": {
            "success": {"const": False},
            "error": {"type": "string"},
            "details": {"type": "object", "properties": {"type": {"type": "string"}}},
        },
    },
    "ApiPagination": {
        "type": "object",
        "required": ["page", "limit", "total", "pages"],
        "properties": {"page": _COUNT, "limit": _COUNT, "total": _COUNT, "pages": _COUNT},
    },
    "ApiHealth": {
        "type": "object",
        "required": ["status", "timestamp", "uptime"],
        "properties": {
            "success": {"const": True},
            "status": {"const": "ok"},
            "timestamp": {"type": "string", "format": "date-time"},
            "uptime": _COUNT,
        },
    },  # fmt: skip
    "ApiAgentRegistration": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {**_TEXT, "minLength": 1},
            "hostname": _TEXT,
            "os": {"type": "string", "maxLength": 64},
            "version": {"type": "string", "maxLength": 64},
            "customerIdentifier": {"type": "string", "maxLength": 128, "description": "An enrollment id"},
        },
    },  # fmt: skip
    "ApiRegistered": {
        "type": "object",
        "required": ["agent", "apiKey", "mtls"],
        "properties": {
            "agent": ref("ApiAgent"),
            "apiKey": {"type": "string", "pattern": "^mft_ak_", "description": "Shown only here"},
            "mtls": {
                "type": "object",
                "required": ["enabled", "csrTemplate"],
                "properties": {"enabled": {"type": "boolean"}, "csrTemplate": {"type": "string"}},
            },
        },
    },
    "ApiHeartbeat": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "status": {"enum": ["online", "idle", "busy", "degraded", "offline"]},
            "load": {"type": "number", "minimum": 0},
            "memory": {"type": "number", "minimum": 0},
        },
    },
    "ApiAgent": {
        "type": "object",
        "required": ["id", "name", "hostname", "os", "status", "createdAt"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "hostname": {"type": "string"},
            "os": {"type": "string"},
            "version": {"type": "string"},
            "status": {"enum": ["online", "idle", "busy", "degraded", "offline", "disabled"]},
            "enabled": {"type": "boolean"},
            "partner": {"type": "string"},
            "customer": {"type": "string"},
            "createdAt": {"type": "string", "format": "date-time"},
            "lastSeen": _NULL_TIME,
            "load": {"type": ["number", "null"]},
            "memory": {"type": ["number", "null"]},
        },
    },  # fmt: skip
    "ApiTransferStatus": {"enum": ["pending", "running", "completed", "failed", "cancelled"]},
    "ApiNewTransfer": {
        "type": "object",
        "required": ["sourceUrl", "destinationPath", "direction", "protocol"],
        "additionalProperties": False,
        "properties": {
            "sourceUrl": {"type": "string", "minLength": 1, "maxLength": 4096},
            "destinationPath": {"type": "string", "minLength": 1, "maxLength": 4096},
            "direction": {"enum": ["pull", "push", "upload", "download"]},
            "protocol": {"type": "string", "pattern": "^[a-z][a-z0-9+.-]{0,15}$"},
            "size": _COUNT,
            "status": {"enum": ["pending", "running"]},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        },
    },
    "ApiTransferChange": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "status": ref("ApiTransferStatus"),
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "bytesTransferred": _COUNT,
            "speed": _COUNT,
            "size": _COUNT,
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "error": {"type": "string", "maxLength": 4096},
        },
    },  # fmt: skip
    "ApiTransfer": {
        "type": "object",
        "required": ["id", "direction", "protocol", "sourceUrl", "destinationPath", "status", "progress"],
        "properties": {
            "id": {"type": "string"},
            "direction": {"type": "string"},
            "protocol": {"type": "string"},
            "sourceUrl": {"type": "string"},
            "destinationPath": {"type": "string"},
            "size": {"type": ["integer", "null"]},
            "bytesTransferred": _COUNT,
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "speed": _COUNT,
            "status": ref("ApiTransferStatus"),
            "startedAt": {"type": "string", "format": "date-time"},
            "endedAt": _NULL_TIME,
            "updatedAt": {"type": "string", "format": "date-time"},
            "sha256": {"type": ["string", "null"]},
            "agentId": {"type": ["string", "null"]},
            "partner": {"type": "string"},
            "customer": {"type": "string"},
            "runId": {"type": ["integer", "null"]},
            "error": {"type": ["string", "null"]},
        },
    },  # fmt: skip
}
