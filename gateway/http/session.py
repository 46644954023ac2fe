"""The two STENG session cookies and turning them into an authorised caller.

``sp-http-usr`` carries the user name (as STENG peers do) and ``sp-http-ses`` a random token
whose hash is the session's key in the catalog. Both must be present and agree with the stored
session, the user must still exist and be enabled in the configuration; otherwise the request
fails as ``401 authentication`` with the same message whatever the reason, so that the answer
does not tell an attacker which part was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from gateway.catalog import sessions
from gateway.config.schema import GatewayConfig, User
from gateway.core import machine
from gateway.core.principal import Principal
from gateway.core.runtime import Runtime
from gateway.errors import AuthenticationError
from gateway.http.headers import header, only_raw
from gateway.http.proxy import client_info
from gateway.http.state import runtime

USER_COOKIE = "sp-http-usr"
SESSION_COOKIE = "sp-http-ses"
_KNOWN_MAX = 4096  # cookie headers remembered; a full dict starts over
_KNOWN_HEADER_MAX = 1024  # longer Cookie headers are parsed every time, never remembered


@dataclass(frozen=True, slots=True)
class _Known:
    """A ``Cookie`` header that authenticated in this process, and what it came to.

    A client sends the same header with every request of its session, so parsing it, hashing
    its token and building its principal again would each time give the same answer: only the
    session's liveness (asked of ``sessions`` on every request, as before) and the user's state
    in the configuration can change it. Remembered are the header's two cookies and the token's
    key, which follow from the header alone, and the principal, which follows from the user and
    the client too: it is reused only for the same configured user (the same object of the same
    configuration) and the same client, meaning everything :func:`client_info` reads: the TCP
    peer, the scheme and the ``X-Forwarded-For`` / ``X-Forwarded-Proto`` values. Only headers
    that authenticated are kept, so a stream of made-up cookies fills nothing, and a remembered
    header whose session has ended is forgotten.
    """

    token: str
    user_name: str
    key: str  # sessions.key_of(token)
    config: GatewayConfig
    user: User
    client: tuple[str, str, str | None, str | None]  # _client_key of the request it was made for
    principal: Principal


_known: dict[bytes, _Known] = {}


def principal_for(rt: Runtime, user: User, request: HTTPConnection) -> Principal:
    client = client_info(request, rt.config.server.trusted_proxies)
    return Principal(
        user=user.name,
        actor=user.actor,
        groups=user.groups,
        protocol=client.scheme,
        client_address=client.address,
        roles=user.roles,
        scopes=user.scopes,
    )


def _client_key(conn: HTTPConnection, proxied: bool) -> tuple[str, str, str | None, str | None]:
    """What :func:`client_info` makes its answer from; the forwarded headers count only when
    trusted proxies are configured (otherwise client_info never reads them)."""
    peer = conn.scope.get("client")
    scheme = conn.scope.get("scheme", "http")
    if not proxied:
        return (peer[0] if peer else "", scheme, None, None)
    return (peer[0] if peer else "", scheme, header(conn, b"x-forwarded-for"), header(conn, b"x-forwarded-proto"))


async def cookie_principal(rt: Runtime, request: HTTPConnection) -> tuple[Principal, str]:
    """The user of the session cookies and the session token; raises AuthenticationError.
    (Every API goes through ``gateway.http.credentials``, which also takes bearer tokens and
    API keys.)"""
    raw = only_raw(request, b"cookie")  # several Cookie headers: parsed together, every time
    known = _known.get(raw) if raw is not None else None
    token: str | None
    if known is not None:
        token, user_name, key = known.token, known.user_name, known.key
    else:
        token = request.cookies.get(SESSION_COOKIE)
        user_name = unquote(request.cookies.get(USER_COOKIE, ""))
        if not token or not user_name or len(token) > 256:
            raise AuthenticationError()
        key = sessions.key_of(token)
    record = await sessions.lookup_key(rt.db, key, rt.config.server.session_idle_seconds)
    user = rt.config.users.get(user_name)
    if record is None or record.user_name != user_name or user is None or not user.enabled:
        if known is not None and raw is not None:
            _known.pop(raw, None)  # its session ended: nothing to remember it for
        raise AuthenticationError()
    machine.ensure_agreement(rt, user)
    client = _client_key(request, bool(rt.config.server.trusted_proxies))
    if known is not None and known.user is user and known.config is rt.config and known.client == client:
        return known.principal, token
    principal = principal_for(rt, user, request)
    if raw is not None and len(raw) <= _KNOWN_HEADER_MAX:
        if len(_known) >= _KNOWN_MAX:
            _known.clear()
        _known[raw] = _Known(token, user_name, key, rt.config, user, client, principal)
    return principal, token


async def require_principal(request: Request) -> tuple[Runtime, Principal, str]:
    """The calling user of a cookie session and its token (logout); raises AuthenticationError."""
    rt = await runtime(request)
    principal, token = await cookie_principal(rt, request)
    return rt, principal, token


def set_cookies(response: Response, rt: Runtime, request: Request, user: str, token: str) -> None:
    secure = client_info(request, rt.config.server.trusted_proxies).scheme == "https"
    samesite = rt.config.server.cookie_samesite
    for name, value in ((USER_COOKIE, quote(user, safe="")), (SESSION_COOKIE, token)):
        response.set_cookie(name, value, path="/", httponly=True, secure=secure, samesite=samesite)


def clear_cookies(response: Response) -> None:
    for name in (USER_COOKIE, SESSION_COOKIE):
        response.delete_cookie(name, path="/", httponly=True)
