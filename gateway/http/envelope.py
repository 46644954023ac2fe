"""The API's JSON bodies: ``{"result":"ok"|"failed","timestamp":...,...}``."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from gateway.core.timefmt import iso_now


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def ok(message: str, fileset: int | None = None, status: int = 200) -> Response:
    body: dict[str, str] = {"result": "ok", "timestamp": iso_now(), "message": message}
    if fileset is not None:
        body["fileset"] = str(fileset)  # a decimal long as a JSON string, as documented
    return json_response(body, status)


def failed(message: str, error_type: str, status: int, headers: dict[str, str] | None = None) -> Response:
    body = {"result": "failed", "timestamp": iso_now(), "message": message, "errorType": error_type}
    return json_response(body, status, headers)
