"""What the task façades (``/rest/as/job``, ``/v1``) read from a request the same way: the JSON
object of parameter overrides in a start request's body, and a run id in the path."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from gateway.errors import NotFoundError, RequestSyntaxError
from gateway.http.auth import read_small_body

MAX_OVERRIDES = 64 * 1024


async def overrides(request: Request) -> dict[str, Any]:
    """The body as a JSON object (an empty body is ``{}``); RequestSyntaxError otherwise."""
    body = await read_small_body(request, MAX_OVERRIDES)
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        document = None
    if not isinstance(document, dict):
        raise RequestSyntaxError("The body must be a JSON object of task parameters")
    return document


def run_id(text: str) -> int:
    """A run id from the path; an id that cannot exist is simply not found."""
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise NotFoundError(f"Run '{text[:40]}' doesn't exist")
    return int(text)
