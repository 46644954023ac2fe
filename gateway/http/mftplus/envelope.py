"""Seed 001's ``/api`` wire: the ``{"success": true, "data": …}`` envelope, its error shape
``{"success": false, "error": …, "details": …}``, ``page``/``limit`` paging, and the one
mapping from the core's exceptions to this façade's statuses.

Every ``/api`` handler is wrapped by :func:`api_errors`, so a core exception never reaches the
``/2.0`` envelope. The status table follows the document: 400, 401, 403, 404, 409, 429, 500.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway import errors
from gateway.http.envelope import json_response
from gateway.http.exception_handlers import STATUS, status_for

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

Handler = Callable[[Request], Awaitable[Response]]


class ConflictError(errors.RequestSyntaxError):
    """The resource already exists or is in a state that refuses the request: 409."""

    error_type = "conflict"
    default_message = "Resource already exists"


STATUS.setdefault(ConflictError, 409)


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return json_response({"success": True, "data": data}, status, headers)


def fail(status: int, error: str, details: Any = None, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"success": False, "error": error}
    if details is not None:
        body["details"] = details
    return json_response(body, status, headers)


def api_errors(handler: Handler) -> Handler:
    """The core's exceptions in this façade's envelope; details carry the errorType."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except errors.GatewayError as exc:
            status = status_for(exc)
            headers: dict[str, str] | None = None
            retry = getattr(exc, "retry_after", None)
            if status == 429 and retry is not None:
                headers = {"Retry-After": str(int(retry))}
            if status == 401:
                headers = {"WWW-Authenticate": "Bearer"}
            message = exc.message if status < 500 else "Internal server error"
            details = getattr(exc, "details", None)
            return fail(status, message, details if details is not None else {"type": exc.error_type}, headers)

    return wrapped


def paging(request: Request) -> tuple[int, int]:
    """``page`` (from 1) and ``limit`` (default 20, at most 100); bad values are a 400."""
    page = _positive(request, "page", 1)
    limit = _positive(request, "limit", DEFAULT_LIMIT)
    if limit > MAX_LIMIT:
        raise errors.InvalidParameterError("limit", f"at most {MAX_LIMIT}")
    return page, limit


def _positive(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1 or len(raw) > 9:
        raise errors.InvalidParameterError(name, "a whole number from 1")
    return int(raw)


def ok_page(items: Sequence[Any], total: int, page: int, limit: int) -> Response:
    """A paged list: ``data`` is the list itself (so ``jq '.data[]'`` works), and ``pagination``
    beside it says where the page sits in the whole (our choice; the document is silent)."""
    pages = (total + limit - 1) // limit if total else 0
    body = {"success": True, "data": list(items),
            "pagination": {"page": page, "limit": limit, "total": total, "pages": pages}}  # fmt: skip
    return json_response(body)
