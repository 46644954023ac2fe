"""``/api/agents``: register, heartbeat, list, get, the agent's transfers, and admin disable."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.catalog.transfers import TransferFilter
from gateway.core import agents, jobs, transfers
from gateway.core.agents import NewAgent
from gateway.errors import AuthenticationError, InvalidParameterError
from gateway.http import ratelimit
from gateway.http.credentials import authenticate
from gateway.http.mftplus.caller import agent_caller, json_body, number, text, unknown_fields, user_caller
from gateway.http.mftplus.envelope import api_errors, ok, ok_page, paging
from gateway.http.proxy import client_info
from gateway.http.session import SESSION_COOKIE
from gateway.http.state import runtime

_REGISTER = ("name", "hostname", "os", "version", "customerIdentifier")
_HEARTBEAT = ("status", "load", "memory")


@api_errors
async def register(request: Request) -> Response:
    """A customer's bearer token (or any of its credentials), or ``customerIdentifier`` = an
    enrollment id from gateway.yaml; counted in the ``public`` tier by client address."""
    rt = await runtime(request)
    address = client_info(request, rt.config.server.trusted_proxies).address
    await ratelimit.charge(request, rt, f"addr:{address}", "public")
    body = await json_body(request)
    unknown_fields(body, _REGISTER)
    new = NewAgent(
        name=text(body, "name", required=True) or "",
        hostname=text(body, "hostname") or "",
        os=text(body, "os", most=64) or "",
        version=text(body, "version", most=64) or "",
    )
    identifier = text(body, "customerIdentifier", most=128)
    credentials = any(h in request.headers for h in ("authorization", "x-api-key")) or SESSION_COOKIE in request.cookies
    enrollment: str | None = None
    if credentials:
        _, principal, _ = await authenticate(request)
        if principal.credential.startswith("apikey:") and await agents.for_key(rt, principal.credential[7:]):
            raise InvalidParameterError("Authorization", "an agent cannot register another agent")
        customer, by = principal.user, principal.user
    elif identifier is not None:
        customer, enrollment = await agents.enrollment_owner(rt, identifier, address)
        by = f"enrollment:{enrollment}"
    else:
        raise AuthenticationError("A customer's bearer token or a customerIdentifier is required")
    agent, key = await agents.register(rt, customer, new, enrollment, by, address)
    data = {"agent": agents.to_wire(rt, agent), "apiKey": key, "mtls": agents.mtls_block(agent)}
    return ok(data, status=201)


@api_errors
async def heartbeat(request: Request) -> Response:
    rt, _, agent = await agent_caller(request)
    body = await json_body(request)
    unknown_fields(body, _HEARTBEAT)
    status = text(body, "status", most=32) or "online"
    agent = await agents.heartbeat(rt, agent, status, number(body, "load"), number(body, "memory"))
    await jobs.renew_leases(rt, agent.id)  # i13b: a live agent keeps the job runs it holds
    return ok(agents.to_wire(rt, agent))


@api_errors
async def list_agents(request: Request) -> Response:
    rt, caller = await user_caller(request)
    page, limit = paging(request)
    found, total = await agents.page(rt, caller, page, limit)
    return ok_page([agents.to_wire(rt, a) for a in found], total, page, limit)


@api_errors
async def get_agent(request: Request) -> Response:
    rt, caller = await user_caller(request)
    agent = await agents.get(rt, caller, request.path_params["id"])
    return ok(agents.to_wire(rt, agent))


@api_errors
async def agent_transfers(request: Request) -> Response:
    rt, caller = await user_caller(request)
    agent = await agents.get(rt, caller, request.path_params["id"])
    page, limit = paging(request)
    wanted = TransferFilter(agent_id=agent.id, status=request.query_params.get("status") or None)
    found, total = await transfers.page(rt, caller, wanted, page, limit)
    return ok_page([transfers.to_wire(t) for t in found], total, page, limit)


@api_errors
async def patch_agent(request: Request) -> Response:
    """Admin only: ``{"enabled": false}`` disables the agent (its key is revoked); a disabled
    agent cannot be enabled again (register a new one): ``{"enabled": true}`` on it is a 409."""
    rt, caller = await user_caller(request)
    body = await json_body(request)
    unknown_fields(body, ("enabled",))
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise InvalidParameterError("enabled", "true or false")
    address = caller.principal.client_address
    agent = await agents.get(rt, caller, request.path_params["id"])
    if enabled:
        agents.ensure_enabled(caller, agent)
        return ok(agents.to_wire(rt, agent))
    agent = await agents.disable(rt, caller, agent.id, address)
    return ok(agents.to_wire(rt, agent))


ROUTES: list[BaseRoute] = [
    Route("/api/agents/register", register, methods=["POST"], name="api:agents:register"),
    Route("/api/agents/heartbeat", heartbeat, methods=["POST"], name="api:agents:heartbeat"),
    Route("/api/agents", list_agents, methods=["GET"], name="api:agents:list"),
    Route("/api/agents/{id}", get_agent, methods=["GET"], name="api:agents:get"),
    Route("/api/agents/{id}", patch_agent, methods=["PATCH"], name="api:agents:patch"),
    Route("/api/agents/{id}/transfers", agent_transfers, methods=["GET"], name="api:agents:transfers"),
]
