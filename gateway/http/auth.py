"""POST /2.0/login/basic and POST /2.0/logout."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from gateway.catalog import audit, passwords, sessions
from gateway.core import defender, machine
from gateway.errors import AuthenticationError, LimitExceededError
from gateway.http import ratelimit
from gateway.http.envelope import ok
from gateway.http.exception_handlers import MissingCredentialsError
from gateway.http.proxy import client_info
from gateway.http.session import clear_cookies, require_principal, set_cookies
from gateway.http.state import runtime

MAX_LOGIN_BODY = 16 * 1024
# argon2id costs ~64 MiB and tens of ms per verification: bound how many run at once so a
# burst of logins can neither exhaust memory nor starve transfers of CPU.
_VERIFY_SLOTS = asyncio.Semaphore(2)


async def read_small_body(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise LimitExceededError(f"Request body exceeds {limit} bytes")
    return bytes(body)


def _field(fields: dict[str, list[str]], name: str) -> str:
    values = fields.get(name)
    return values[0] if values else ""


async def login(request: Request) -> Response:
    """Password login. Unknown users, wrong passwords and disabled accounts get the same answer
    after the same work (a disabled or unknown user's password is checked against a dummy hash
    of the same cost); a banned address or account gets 429 before any hash is computed."""
    rt = await runtime(request)
    address = client_info(request, rt.config.server.trusted_proxies).address
    await ratelimit.charge(request, rt, f"addr:{address}", "public")
    body = await read_small_body(request, MAX_LOGIN_BODY)
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    username, password = _field(fields, "username"), _field(fields, "password")
    if not username or not password:
        raise MissingCredentialsError()  # as documented: 404 request_syntax
    await defender.guard(rt, address, username)
    user = rt.config.users.get(username)
    # Service accounts have no password: they authenticate with API keys or OAuth clients.
    known = user.password_hash if user is not None and user.enabled and not user.service else None
    async with _VERIFY_SLOTS:
        valid = await asyncio.to_thread(passwords.verify, password, known)
    if not valid or user is None:
        await defender.failed(rt, address, username, known=user is not None)
        await audit.record(rt.db, "login.failed", principal=username, address=address, detail={"method": "password"})
        raise AuthenticationError()
    machine.ensure_agreement(rt, user)
    await defender.succeeded(rt, address, user.name)
    token = await sessions.create(rt.db, user.name, rt.config.server.session_absolute_seconds, address)
    await audit.record(rt.db, "login.ok", principal=user.name, address=address, detail={"method": "password"})
    response = Response(status_code=200)
    set_cookies(response, rt, request, user.name, token)
    return response


async def logout(request: Request) -> Response:
    rt, _, token = await require_principal(request)
    await sessions.revoke(rt.db, token)
    response = ok("Logged out")
    clear_cookies(response)
    return response
