"""``GET /api/health``: seed 001's liveness answer, without authentication or rate limit.

The body is the document's own (``status``, ``timestamp``, ``uptime`` in whole seconds since
this process started), with ``success: true`` beside it so that clients reading the envelope
of every other ``/api`` answer find it here too.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from gateway.http.envelope import json_response

_STARTED = time.monotonic()


async def health(request: Request) -> Response:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    body = {"success": True, "status": "ok", "timestamp": now, "uptime": int(time.monotonic() - _STARTED)}
    return json_response(body)
