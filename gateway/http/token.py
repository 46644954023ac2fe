"""``POST /token``: an API key exchanged for a bearer token (seed 002).

Form body ``grant_type=apikey`` (the seed spells it ``apiKey`` too: the grant is matched without
regard to case) ``&key=<API key>[&duration=<minutes>]``. The answer is the seed's JSON:
``statusCode``, ``access_token``, ``token_type: "bearer"``, ``expires_in`` in minutes,
``.issued`` and ``.expires`` (HTTP dates, as the ASP.NET token endpoints this shape comes from
write them) and ``userName`` (the key's owner). The duration defaults to
``server.token_default_minutes`` and is capped at ``server.token_max_minutes``, and never outlives
the key. 401 for an invalid, expired or revoked key, 410 once the owner's agreement has ended.
"""

from __future__ import annotations

import email.utils
import time

from starlette.requests import Request
from starlette.responses import Response

from gateway.catalog import audit
from gateway.core import apikeys, machine, tokens
from gateway.http.oauth_wire import OAuthError, answer, issuer, oauth_errors, parameters, public_charge
from gateway.http.proxy import client_info
from gateway.http.state import runtime

_MAX_DURATION_DIGITS = 9


def _duration(raw: str | None, default: int, most: int) -> int:
    if raw is None or raw == "":
        return min(default, most)
    if not raw.isascii() or not raw.isdigit() or len(raw) > _MAX_DURATION_DIGITS or int(raw) < 1:
        raise OAuthError("invalid_request", "duration must be a whole number of minutes, at least 1")
    return min(int(raw), most)


def _http_date(seconds: int) -> str:
    return email.utils.formatdate(seconds, usegmt=True)


@oauth_errors
async def token(request: Request) -> Response:
    rt = await runtime(request)
    await public_charge(request, rt)
    params = await parameters(request)
    grant = params.get("grant_type")
    if not grant:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant.lower() != "apikey":
        raise OAuthError("unsupported_grant_type", "this endpoint takes grant_type=apikey")
    key = params.get("key")
    if not key:
        raise OAuthError("invalid_request", "key is required")
    server = rt.config.server
    minutes = _duration(params.get("duration"), server.token_default_minutes, server.token_max_minutes)
    address = client_info(request, server.trusted_proxies).address
    record = await apikeys.authenticate(rt, key, address)
    owner = machine.owner(rt, record.owner)
    seconds = minutes * 60
    if record.expires_at is not None:
        seconds = min(seconds, max(0, record.expires_at // 1_000_000 - int(time.time())))
    issued = await tokens.issue(
        rt,
        owner,
        credential=f"apikey:{record.id}",
        client_id=record.id,
        version=record.generation,
        scopes=record.scopes & owner.scopes,
        seconds=seconds,
        issuer=issuer(rt, request),
    )
    detail = {"jti": issued.jti, "credential": f"apikey:{record.id}", "expires": issued.expires_at}
    await audit.record(rt.db, "token.issued", principal=owner.name, address=address, detail=detail)
    return answer(
        {
            "statusCode": 200,
            "access_token": issued.token,
            "token_type": "bearer",
            "expires_in": seconds // 60,
            ".issued": _http_date(issued.issued_at),
            ".expires": _http_date(issued.expires_at),
            "userName": owner.name,
        }
    )
