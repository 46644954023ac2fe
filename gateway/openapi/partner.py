"""The /2.0 partner API (STENG "HTTP MFT Rest API", wire-compatible): login, files, metadata.

Listing is in ``partner_listing``.

Statuses and messages are those of ``gateway/http`` and ``docs/api.md``; every operation lists each
status it can answer, in the error envelope unless said otherwise.
"""

from __future__ import annotations

from typing import Any

from gateway.core.metadata import SYSTEM_ATTRIBUTES
from gateway.openapi.common import (
    AGREEMENT_ENDED,
    BODY_TIMEOUT,
    CALLER,
    PUBLIC,
    RATE_LIMITED,
    SERVER_ERROR,
    SESSION,
    UNAUTHENTICATED,
    error,
    json_content,
    ref,
    responses,
)

TAG = "Partner API (/2.0)"

PATH_PARAMETER: dict[str, Any] = {
    "name": "path",
    "in": "path",
    "required": True,
    "description": "A virtual path below the user's root: `/`-separated segments, each percent-encoded once. "
    "An encoded separator (`%2F`, `%5C`) inside a segment, empty, `.` or `..` segments, control characters, "
    "invalid UTF-8, reserved device names and over-long names are refused with 400.",
    "schema": {"type": "string"},
    "examples": {"file": {"value": "report.csv"}, "folder": {"value": "inbox"}},
}

# Errors every /2.0 operation behind the session can give.
NO_SESSION = error(
    401,
    "`Invalid username or password` (`authentication`): no, unknown, expired or mismatched session cookies, "
    "or an invalid, expired or revoked bearer token or API key; "
    "`Connection contract not configured` (`configuration`): the user has no contract for this protocol.",
)


def forbidden(what: str) -> dict[str, Any]:
    return error(
        403,
        f"`No {what} permission` (`authorization`): the contract's direction or the ACL refuses it, or the "
        "bearer token or API key lacks the `files:*` scope it needs.",
    )


MISSING = error(404, "`Path '<path>' doesn't exist` or `File '<file>' doesn't exist` (`io`).")
FILE_HEADERS: dict[str, Any] = {
    "Content-Disposition": {
        "description": '`attachment; filename="<name>"`, plus RFC 6266 `filename*` for non-ASCII names.',
        "schema": {"type": "string"},
    },
    "ETag": {"description": "The quoted SHA-256 of the content (hex).", "schema": {"type": "string"}},
    "Repr-Digest": {"description": "RFC 9530: `sha-256=:<base64>:`.", "schema": {"type": "string"}},
    "X-Fileset": {"description": "The version served.", "schema": ref("Fileset")},
    "Accept-Ranges": {"schema": {"const": "bytes"}},
}
OK_FILE = {"content": json_content(ref("Ok"))}

UPLOAD_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "The content; its filename names the file when the path is an existing folder (POST).",
        },
        "metadata": {
            "type": "string",
            "description": 'A JSON object of scalar values, e.g. `{"QUEUE_NAME":"QUEUE1","CORRELATION_ID":"x"}`. '
            'Numbers and booleans are stored as strings, `null` as `""`; `size` and the dates are read-only.',
        },
    },
}


def _upload(summary: str, description: str, operation_id: str) -> dict[str, Any]:
    return {
        "tags": [TAG],
        "summary": summary,
        "description": description,
        "operationId": operation_id,
        "security": CALLER,
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": UPLOAD_FORM}},
        },
        "responses": responses(
            {"201": {"description": "`Upload successful`, with the new fileset.", **OK_FILE}},
            error(
                400,
                "`No filename specified` (only a folder was given), `Missing parameters or syntax error` (not "
                "multipart, no `file` part, bad metadata) or `Invalid path...` (`request_syntax`).",
            ),
            NO_SESSION,
            AGREEMENT_ENDED,
            forbidden("write"),
            error(404, "`Path '<path>' doesn't exist` (`io`): uploads never create folders."),
            BODY_TIMEOUT,
            error(413, "The file or the metadata part exceeds a configured limit (`limit`)."),
            RATE_LIMITED,
            SERVER_ERROR,
            error(507, "The storage is full or over its quota (`quota`); nothing is kept."),
        ),
    }


def _metadata_get(operation_id: str, summary: str) -> dict[str, Any]:
    return {
        "tags": [TAG],
        "summary": summary,
        "operationId": operation_id,
        "security": CALLER,
        "parameters": [PATH_PARAMETER],
        "responses": responses(
            {"200": {"description": "System attributes and user keys.", "content": json_content(ref("Metadata"))}},
            error(400, "`No filename specified` or `Invalid path...` (`request_syntax`)."),
            NO_SESSION,
            AGREEMENT_ENDED,
            forbidden("read"),
            MISSING,
            RATE_LIMITED,
            SERVER_ERROR,
        ),
    }


PATHS: dict[str, Any] = {
    "/2.0/login/basic": {
        "post": {
            "tags": [TAG],
            "summary": "Log in; sets the two session cookies",
            "operationId": "login",
            "security": PUBLIC,
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["username", "password"],
                            "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
                        }
                    }
                },
            },
            "responses": responses(
                {
                    "200": {
                        "description": "Logged in; empty body. `Set-Cookie: sp-http-usr=<user>` and "
                        "`Set-Cookie: sp-http-ses=<token>` (`Path=/; HttpOnly; SameSite`, `Secure` over https).",
                        "headers": {"Set-Cookie": {"schema": {"type": "string"}}},
                    }
                },
                error(401, "`Invalid username or password` (`authentication`); also for disabled users."),
                error(404, "`No username or password` (`request_syntax`, 404 as documented by STENG)."),
                BODY_TIMEOUT,
                error(413, "The form exceeds 16 KiB (`limit`)."),
                RATE_LIMITED,
                SERVER_ERROR,
            ),
        }
    },
    "/2.0/logout": {
        "post": {
            "tags": [TAG],
            "summary": "End the session and clear the cookies",
            "operationId": "logout",
            "security": SESSION,
            "responses": responses(
                {"200": {"description": "`Logged out`.", "content": json_content(ref("Ok"))}},
                UNAUTHENTICATED,
                RATE_LIMITED,
                SERVER_ERROR,
            ),
        }
    },
    "/2.0/files/{path}": {
        "parameters": [PATH_PARAMETER],
        "put": _upload(
            "Upload a file",
            "The last segment is the file name. Streamed, hashed and made visible atomically: a failure at any "
            "byte leaves nothing. Replaces an existing file with a new fileset.",
            "uploadFile",
        ),
        "post": _upload(
            "Upload a file with metadata",
            "As PUT; when the path names an existing folder, the `file` part's filename names the file.",
            "uploadFileWithMetadata",
        ),
        "get": {
            "tags": [TAG],
            "summary": "Download a file",
            "description": "Streamed. One `Range` (`bytes=a-b`, `a-`, `-n`) answers 206; several ranges or an "
            "unknown syntax answer the whole file. `If-Range` with the ETag resumes only the same bytes. HEAD "
            "answers the headers without recording a read.",
            "operationId": "downloadFile",
            "security": CALLER,
            "parameters": [
                {
                    "name": "Range",
                    "in": "header",
                    "schema": {"type": "string"},
                    "examples": {"tail": {"value": "bytes=0-"}},
                },
                {"name": "If-Range", "in": "header", "schema": {"type": "string"}},
            ],
            "responses": responses(
                {
                    "200": {
                        "description": "The content, typed with its stored datatype.",
                        "headers": FILE_HEADERS,
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "206": {
                        "description": "The requested range.",
                        "headers": {
                            **FILE_HEADERS,
                            "Content-Range": {"description": "`bytes a-b/size`", "schema": {"type": "string"}},
                        },
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                },
                error(400, "`No filename specified` or `Invalid path...` (`request_syntax`)."),
                NO_SESSION,
                AGREEMENT_ENDED,
                forbidden("read"),
                MISSING,
                error(
                    416,
                    "`Requested range not satisfiable` (`request_syntax`).",
                    {"Content-Range": {"description": "`bytes */size`", "schema": {"type": "string"}}},
                ),
                RATE_LIMITED,
                SERVER_ERROR,
            ),
        },
        "delete": {
            "tags": [TAG],
            "summary": "Delete a file",
            "operationId": "deleteFile",
            "security": CALLER,
            "responses": responses(
                {"200": {"description": "`File deleted`, with the fileset removed.", **OK_FILE}},
                error(400, "`missing param or syntax error` (`syntax_error`, as documented by STENG)."),
                NO_SESSION,
                AGREEMENT_ENDED,
                forbidden("delete"),
                MISSING,
                RATE_LIMITED,
                SERVER_ERROR,
            ),
        },
    },
    "/2.0/metadata/{path}": {
        "parameters": [PATH_PARAMETER],
        "get": _metadata_get("readMetadata", "Read a file's metadata"),
        "post": {
            "tags": [TAG],
            "summary": "Add or replace metadata keys of a file",
            "description": "`CORRELATION_ID` also sets `correlationId`; `dstFileName`, `correlationId`, `datatype` "
            "and `description` may be set; `size` and the dates are read-only (400).",
            "operationId": "writeMetadata",
            "security": CALLER,
            "requestBody": {
                "required": True,
                "content": json_content(
                    {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                        "examples": [{"QUEUE_NAME": "QUEUE1", "description": "monthly report"}],
                    }
                ),
            },
            "responses": responses(
                {"200": {"description": "`Metadata updated`.", **OK_FILE}},
                error(
                    400,
                    "`No filename specified`, `Missing parameters or syntax error` (no Content-Type, not a JSON "
                    "object of scalars, read-only or over-long keys, NUL in a value, invalid Unicode) or "
                    "`Invalid path...` (`request_syntax`).",
                ),
                NO_SESSION,
                AGREEMENT_ENDED,
                forbidden("write"),
                MISSING,
                BODY_TIMEOUT,
                error(413, "The body exceeds the configured metadata size (`limit`)."),
                RATE_LIMITED,
                SERVER_ERROR,
            ),
        },
    },
    "/2.0/meadata/{path}": {
        "parameters": [PATH_PARAMETER],
        "get": _metadata_get("readMetadataDocumentedSpelling", "Read a file's metadata (STENG's documented spelling)"),
    },
}

_STRING = {"type": "string"}

SCHEMAS: dict[str, Any] = {
    "Metadata": {
        "type": "object",
        "required": ["metadata"],
        "properties": {
            "result": {"const": "ok"},
            "timestamp": ref("Timestamp"),
            "metadata": {
                "type": "object",
                "description": 'System attributes (always present, `""` when unset) and user keys, all strings.',
                "required": list(SYSTEM_ATTRIBUTES),
                "additionalProperties": _STRING,
            },
        },
    },
}
