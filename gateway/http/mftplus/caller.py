"""Who calls ``/api``, charged in seed 001's rate-limit tiers, and the JSON bodies they send.

Admin and customer endpoints take any credential of the other APIs (a bearer token from
``/token`` or ``/oauth2/token``, an API key, a session cookie) and count in the
``authenticated`` tier; an agent's key (an ``X-API-Key`` that an ``agents`` row names, or a
token issued from it) makes the caller that agent, counted in the ``agent`` tier. Agent
endpoints (heartbeat, transfers) accept only an agent's key.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request

from gateway.catalog.agents import AgentRecord
from gateway.core import agents
from gateway.core.agents import Caller
from gateway.core.metadata import parse_json_object
from gateway.core.principal import Principal
from gateway.core.runtime import Runtime
from gateway.errors import AuthenticationError, AuthorizationError, InvalidParameterError, RequestSyntaxError
from gateway.http import ratelimit
from gateway.http.auth import read_small_body
from gateway.http.credentials import authenticate

MAX_BODY = 64 * 1024


async def _agent_of(rt: Runtime, principal: Principal) -> AgentRecord | None:
    if not principal.credential.startswith("apikey:"):
        return None
    agent = await agents.for_key(rt, principal.credential[len("apikey:") :])
    if agent is not None and not agent.enabled:
        raise AuthenticationError("This agent is disabled")
    return agent


async def user_caller(request: Request) -> tuple[Runtime, Caller]:
    """An admin, a customer, or an agent reading its own records."""
    rt, principal, _ = await authenticate(request)
    agent = await _agent_of(rt, principal)
    if agent is not None:
        await ratelimit.charge(request, rt, f"agent:{agent.id}", "agent")
    else:
        await ratelimit.charge(request, rt, principal.rate_key, "authenticated")
    return rt, Caller(principal=principal, agent=agent)


async def agent_caller(request: Request) -> tuple[Runtime, Caller, AgentRecord]:
    """The agent of the ``X-API-Key``; any other credential is a 401 (no key) or 403."""
    if request.headers.get("x-api-key") is None:
        raise AuthenticationError("An agent's X-API-Key is required")
    rt, caller = await user_caller(request)
    if caller.agent is None:
        raise AuthorizationError("This API key does not belong to an agent")
    return rt, caller, caller.agent


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (at most 64 KiB); anything else is a 400."""
    raw = await read_small_body(request, MAX_BODY)
    try:
        return parse_json_object(raw)
    except RequestSyntaxError:
        raise RequestSyntaxError("The body must be a JSON object") from None


def unknown_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise InvalidParameterError(extra[0], f"unknown field; allowed: {', '.join(allowed)}")


def text(body: dict[str, Any], name: str, required: bool = False, most: int = 255) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidParameterError(name, "required")
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > most:
        raise InvalidParameterError(name, f"a string of at most {most} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidParameterError(name, "no control characters")
    return value


def number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise InvalidParameterError(name, "a number of at least 0")
    return value


def whole(body: dict[str, Any], name: str, most: int = 2**62) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        raise InvalidParameterError(name, f"a whole number from 0 to {most}")
    return value
