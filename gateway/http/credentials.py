"""The one place every API turns a request into a principal: cookie session, bearer token or
``X-API-Key``, then the rate limiter is charged and the scope checked.

Order: an ``Authorization: Bearer`` header (any case of "bearer", as seed 000 sends it) wins,
then ``X-API-Key``, then the STENG session cookies. Other Authorization schemes are ignored
(the cookies still count), so a partner script that sends Basic credentials out of habit keeps
working. The cookie path costs two header lookups more than before; everything else on it is
unchanged (see bench/ab.py figures in docs/machine-access.md).

Failures are domain errors, so each API answers in its own envelope: a missing, expired or
revoked credential is ``AuthenticationError`` (401), an ended agreement ``AgreementEndedError``
(410), a valid credential lacking the scope ``AuthorizationError`` (403).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from gateway.core import apikeys, contracts, defender, machine, tokens
from gateway.core.contracts import Access
from gateway.core.principal import Principal, ensure_scope
from gateway.core.runtime import Runtime
from gateway.http import ratelimit
from gateway.http.exception_handlers import BearerTokenError
from gateway.http.headers import header
from gateway.http.proxy import ClientInfo, client_info
from gateway.http.session import cookie_principal
from gateway.http.state import runtime

MAX_TOKEN = 8192


async def authenticate(conn: HTTPConnection) -> tuple[Runtime, Principal, str | None]:
    """The caller and, for a cookie session, its session token; raises AuthenticationError."""
    rt = await runtime(conn)
    authorization = header(conn, b"authorization")
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            client = client_info(conn, rt.config.server.trusted_proxies)
            return rt, await bearer_principal(rt, value.strip(), client), None
    api_key = header(conn, b"x-api-key")
    if api_key is not None:
        client = client_info(conn, rt.config.server.trusted_proxies)
        return rt, await api_key_principal(rt, api_key.strip(), client), None
    principal, token = await cookie_principal(rt, conn)
    return rt, principal, token


async def bearer_principal(rt: Runtime, token: str, client: ClientInfo) -> Principal:
    await defender.guard(rt, client.address, None)
    if not token or len(token) > MAX_TOKEN:
        await defender.failed(rt, client.address, None, known=False)
        raise BearerTokenError()
    try:
        claims = await tokens.verify(rt, token, rt.config.server.public_url)
    except tokens.InvalidTokenError:
        await defender.failed(rt, client.address, None, known=False)
        raise BearerTokenError() from None
    credential = str(claims["cred"])
    user = machine.owner(rt, str(claims["sub"]))
    scopes = frozenset(str(claims["scope"]).split())
    if claims["ofp"] != tokens.owner_print(user):
        raise BearerTokenError()  # the account changed since issuance
    if credential.startswith("client:"):
        found = rt.config.oauth_clients.get(credential[len("client:") :])
        if found is None or not found.enabled or found.principal != user.name:
            raise BearerTokenError()
        scopes &= found.scopes
    await defender.succeeded(rt, client.address, None)
    return machine.principal(user, scopes, credential, client.scheme, client.address)


async def api_key_principal(rt: Runtime, presented: str, client: ClientInfo) -> Principal:
    record = await apikeys.authenticate(rt, presented, client.address)
    user = machine.owner(rt, record.owner)
    return machine.principal(user, record.scopes, f"apikey:{record.id}", client.scheme, client.address)


async def require(conn: HTTPConnection, scope: str, tier: str = "authenticated") -> tuple[Runtime, Principal]:
    """An authenticated caller holding ``scope``, counted by the rate limiter in ``tier``."""
    rt, principal, _ = await authenticate(conn)
    await ratelimit.charge(conn, rt, principal.rate_key, tier)
    ensure_scope(principal, scope)
    return rt, principal


async def require_access(conn: HTTPConnection) -> tuple[Runtime, Access]:
    """A /2.0 caller bound to a VFS by a contract: reads need ``files:read``, writes
    ``files:write``; file transfers are rate-limited in their own tier."""
    scope = "files:read" if conn.scope.get("method") in ("GET", "HEAD") else "files:write"
    rt, principal = await require(conn, scope, _tier(conn))
    return rt, contracts.resolve(rt.config, principal)


def _tier(conn: HTTPConnection) -> str:
    """File transfers on /2.0 have their own rate-limit class (the path is matched below the
    mount point when the gateway is mounted in another app); every other call is ``authenticated``."""
    path: str = conn.scope["path"]
    root: str = conn.scope.get("root_path", "")
    start = len(root) if root and path.startswith(root) else 0
    return "transfer" if path.startswith("/2.0/files/", start) else "authenticated"
