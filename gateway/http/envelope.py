"""The API's JSON bodies: ``{"result":"ok"|"failed","timestamp":...,...}``."""

from __future__ import annotations

import functools
import json
from typing import Any

from starlette.responses import Response

from gateway.core.timefmt import iso_now


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(content, status_code=status, headers=headers, media_type="application/json")


@functools.lru_cache(maxsize=64)
def _ok_message(message: str) -> bytes:
    return ('","message":' + json.dumps(message, ensure_ascii=False)).encode("utf-8")


def ok(message: str, fileset: int | None = None, status: int = 200) -> Response:
    """``{"result":"ok","timestamp":…,"message":…[,"fileset":"…"]}``, byte for byte what
    json_response makes of it, assembled from pieces: this is every upload's answer, and the
    JSON encoder cost it more than the rest of its response. (The timestamp and a decimal
    fileset need no escaping; the message is encoded once.)"""
    content = b'{"result":"ok","timestamp":"' + iso_now().encode("ascii") + _ok_message(message)
    if fileset is not None:
        content += b',"fileset":"%d"' % fileset  # a decimal long as a JSON string, as documented
    return Response(content + b"}", status_code=status, media_type="application/json")


def failed(message: str, error_type: str, status: int, headers: dict[str, str] | None = None) -> Response:
    body = {"result": "failed", "timestamp": iso_now(), "message": message, "errorType": error_type}
    return json_response(body, status, headers)
