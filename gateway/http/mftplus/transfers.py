"""``/api/transfers``: agents create and PATCH their own; admins and customers list and read."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.catalog.transfers import TransferFilter
from gateway.core import transfers
from gateway.core.transfers import Change, NewTransfer
from gateway.errors import InvalidParameterError
from gateway.http.admin_keys import parse_expiry
from gateway.http.mftplus.caller import agent_caller, json_body, text, unknown_fields, user_caller, whole
from gateway.http.mftplus.envelope import api_errors, ok, ok_page, paging

_CREATE = ("sourceUrl", "destinationPath", "direction", "protocol", "size", "status", "sha256")
_PATCH = ("status", "progress", "bytesTransferred", "speed", "size", "sha256", "error")
MAX_TEXT = transfers.MAX_TEXT


@api_errors
async def create(request: Request) -> Response:
    rt, _, agent = await agent_caller(request)
    body = await json_body(request)
    unknown_fields(body, _CREATE)
    new = NewTransfer(
        source=text(body, "sourceUrl", required=True, most=MAX_TEXT) or "",
        destination=text(body, "destinationPath", required=True, most=MAX_TEXT) or "",
        direction=text(body, "direction", required=True, most=16) or "",
        protocol=text(body, "protocol", required=True, most=16) or "",
        size=whole(body, "size"),
        status=text(body, "status", most=16) or "pending",
        sha256=text(body, "sha256", most=64),
    )
    return ok(transfers.to_wire(await transfers.create(rt, agent, new)), status=201)


@api_errors
async def patch(request: Request) -> Response:
    rt, _, agent = await agent_caller(request)
    body = await json_body(request)
    unknown_fields(body, _PATCH)
    change = Change(
        status=text(body, "status", most=16),
        progress=whole(body, "progress", most=100),
        bytes_transferred=whole(body, "bytesTransferred"),
        speed=whole(body, "speed"),
        size=whole(body, "size"),
        sha256=text(body, "sha256", most=64),
        error=text(body, "error", most=MAX_TEXT),
    )
    if change == Change():
        raise InvalidParameterError("body", f"give at least one of {', '.join(_PATCH)}")
    return ok(transfers.to_wire(await transfers.update(rt, agent, request.path_params["id"], change)))


def _filter(request: Request) -> TransferFilter:
    q = request.query_params
    return TransferFilter(
        partner=_name(q.get("partner"), "partner"),
        agent_id=_name(q.get("agentId"), "agentId"),
        status=_name(q.get("status"), "status"),
        started_from=_time(q.get("from"), "from"),
        started_to=_time(q.get("to"), "to"),
    )


def _name(value: str | None, name: str) -> str | None:
    """A filter value; control characters (a NUL PostgreSQL would refuse) are a 400."""
    if not value:
        return None
    if len(value) > 255 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidParameterError(name, "at most 255 characters, no control characters")
    return value


def _time(value: str | None, name: str) -> int | None:
    if not value:
        return None
    try:
        return parse_expiry(value)
    except InvalidParameterError:
        raise InvalidParameterError(name, "an ISO 8601 date-time like 2026-12-03T08:00:00Z") from None


@api_errors
async def list_transfers(request: Request) -> Response:
    rt, caller = await user_caller(request)
    page, limit = paging(request)
    found, total = await transfers.page(rt, caller, _filter(request), page, limit)
    return ok_page([transfers.to_wire(t) for t in found], total, page, limit)


@api_errors
async def get_transfer(request: Request) -> Response:
    rt, caller = await user_caller(request)
    found: Any = await transfers.get(rt, caller, request.path_params["id"])
    return ok(transfers.to_wire(found))


ROUTES: list[BaseRoute] = [
    Route("/api/transfers", create, methods=["POST"], name="api:transfers:create"),
    Route("/api/transfers", list_transfers, methods=["GET"], name="api:transfers:list"),
    Route("/api/transfers/{id}", get_transfer, methods=["GET"], name="api:transfers:get"),
    Route("/api/transfers/{id}", patch, methods=["PATCH"], name="api:transfers:patch"),
]
