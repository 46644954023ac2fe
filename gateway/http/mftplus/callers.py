"""Who calls a jobs or pipelines endpoint, and the request bodies they send.

Admins are principals with the ``admin`` role; any other bearer or cookie principal is a
customer acting for its partner (its actor); an ``X-API-Key`` of an agent (seed 001's
``mft_ak_`` keys) acts as that agent, for the agent's partner.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from gateway.core.owners import Caller, InvalidInputError, StateConflictError
from gateway.core.runtime import Runtime
from gateway.http.exception_handlers import STATUS
from gateway.http.mftplus.caller import user_caller

STATUS.setdefault(StateConflictError, 409)
MAX_BODY = 512 * 1024


async def caller(request: Request) -> tuple[Runtime, Caller]:
    """The caller in the jobs/pipelines model, authenticated and rate-limited by the agents
    façade's :func:`~gateway.http.mftplus.caller.user_caller` (an agent's key: the agent)."""
    rt, who = await user_caller(request)
    if who.agent is not None:
        return rt, Caller(admin=False, owner=who.agent.partner, agent_id=who.agent.id)
    return rt, Caller(admin=who.admin, owner=who.partner or "")


async def body_bytes(request: Request, limit: int = MAX_BODY) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise InvalidInputError("Request body too large", [{"field": "", "message": f"at most {limit} bytes"}])
    return bytes(data)


async def json_object(request: Request, optional: bool = False) -> dict[str, Any]:
    """The body as a JSON object; with ``optional``, an empty body is ``{}``."""
    raw = await body_bytes(request)
    if optional and not raw.strip():
        return {}
    try:
        value = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputError("Request body is not valid JSON", [{"field": "", "message": "invalid JSON"}]) from None
    if not isinstance(value, dict):
        raise InvalidInputError("Request body must be a JSON object", [{"field": "", "message": "expected an object"}])
    return value


def storable(text: str) -> bool:
    """No NUL and no lone surrogate: what every catalog (PostgreSQL above all) can store."""
    if "\0" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Fields:
    """Typed reads of a JSON body, collecting every problem before answering one 400."""

    def __init__(self, body: dict[str, Any], allowed: tuple[str, ...]) -> None:
        self.body = body
        known = ", ".join(allowed)
        self.problems: list[dict[str, Any]] = [
            {"field": key, "message": f"unknown field; known: {known}"} for key in body if key not in allowed
        ]

    def bad(self, field: str, message: str) -> None:
        self.problems.append({"field": field, "message": message})

    def text(self, key: str, required: bool = False, most: int = 200, empty: bool = False) -> str | None:
        value = self.body.get(key)
        if value is None:
            if required:
                self.bad(key, "required")
            return None
        if not isinstance(value, str) or (not value and not empty) or len(value) > most or not storable(value):
            self.bad(key, f"expected a {'' if empty else 'non-empty '}string of at most {most} characters")
            return None
        return value

    def flag(self, key: str) -> bool | None:
        value = self.body.get(key)
        if value is not None and not isinstance(value, bool):
            self.bad(key, "expected true or false")
            return None
        return value

    def done(self, what: str) -> None:
        if self.problems:
            raise InvalidInputError(f"Invalid {what}", self.problems)


def query_flag(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise InvalidInputError(f"Invalid parameter '{name}'", [{"field": name, "message": "expected true or false"}])
