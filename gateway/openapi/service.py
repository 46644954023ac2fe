"""The probes (/health, /ready) and the API's own description (/openapi.json, /docs)."""

from __future__ import annotations

from typing import Any

from gateway.openapi.common import PUBLIC, error, json_content, responses

TAG = "Service"
NOT_READY = error(503, "`Catalog is not reachable` or `Storage '<name>' is not usable` (`server`).")


def _get(operation_id: str, summary: str, ok: dict[str, Any], *errors: dict[str, Any], **extra: Any) -> dict[str, Any]:
    operation = {"tags": [TAG], "summary": summary, "operationId": operation_id, "security": PUBLIC, **extra}
    operation["responses"] = responses({"200": ok}, *errors)
    return {"get": operation}


PATHS: dict[str, Any] = {
    "/health": _get(
        "health",
        "The process answers (liveness)",
        {
            "description": "Always, while the process runs.",
            "content": json_content(
                {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}
            ),
        },
    ),
    "/ready": _get(
        "ready",
        "The catalog and every storage are usable (readiness)",
        {
            "description": "Ready; one `ok` per check (`catalog`, `storage:<name>`).",
            "content": json_content(
                {
                    "type": "object",
                    "required": ["status", "checks"],
                    "properties": {
                        "status": {"const": "ready"},
                        "checks": {"type": "object", "additionalProperties": {"const": "ok"}},
                    },
                }
            ),
        },
        error(500, "The runtime could not start (invalid configuration; see the log) (`server`)."),
        NOT_READY,
    ),
    "/openapi.json": _get(
        "openapi",
        "This document",
        {
            "description": "The OpenAPI 3.1 document of every endpoint; `servers` is the app's mount point.",
            "content": json_content({"type": "object", "required": ["openapi", "info", "paths"]}),
        },
    ),
    "/docs": _get(
        "docs",
        "The human page: Swagger UI on this document",
        {
            "description": "An HTML page; Swagger UI is served by the gateway itself (no CDN, works offline).",
            "headers": {"Content-Security-Policy": {"schema": {"type": "string"}}},
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
    ),
    "/docs/{asset}": _get(
        "docsAsset",
        "A file of the docs page",
        {
            "description": "The file.",
            "content": {
                "text/css": {"schema": {"type": "string"}},
                "text/javascript": {"schema": {"type": "string"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        error(404, "`Not found` (`request_syntax`): not a file of the page."),
        parameters=[
            {
                "name": "asset",
                "in": "path",
                "required": True,
                "schema": {"enum": ["swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "init.js"]},
            }
        ],
    ),
}
