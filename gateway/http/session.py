"""The two STENG session cookies and turning them into an authorised caller.

``sp-http-usr`` carries the user name (as STENG peers do) and ``sp-http-ses`` a random token
whose hash is the session's key in the catalog. Both must be present and agree with the stored
session, the user must still exist and be enabled in the configuration; otherwise the request
fails as ``401 authentication`` with the same message whatever the reason, so that the answer
does not tell an attacker which part was wrong.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import Response

from gateway.catalog import sessions
from gateway.config.schema import User
from gateway.core import contracts
from gateway.core.contracts import Access
from gateway.core.principal import Principal
from gateway.core.runtime import Runtime
from gateway.errors import AuthenticationError
from gateway.http import ratelimit
from gateway.http.proxy import client_info
from gateway.http.state import runtime

USER_COOKIE = "sp-http-usr"
SESSION_COOKIE = "sp-http-ses"


def principal_for(rt: Runtime, user: User, request: Request) -> Principal:
    client = client_info(request, rt.config.server.trusted_proxies)
    return Principal(
        user=user.name, actor=user.actor, groups=user.groups, protocol=client.scheme, client_address=client.address
    )


async def require_principal(request: Request) -> tuple[Runtime, Principal, str]:
    """The calling user and their session token; raises AuthenticationError."""
    rt = await runtime(request)
    token = request.cookies.get(SESSION_COOKIE)
    user_name = unquote(request.cookies.get(USER_COOKIE, ""))
    if not token or not user_name or len(token) > 256:
        raise AuthenticationError()
    record = await sessions.lookup(rt.db, token, rt.config.server.session_idle_seconds)
    user = rt.config.users.get(user_name)
    if record is None or record.user_name != user_name or user is None or not user.enabled:
        raise AuthenticationError()
    await ratelimit.charge(request, rt, f"user:{user.name}", _tier(request))
    return rt, principal_for(rt, user, request), token


def _tier(request: Request) -> str:
    """File transfers on /2.0 have their own rate-limit class; every other call is ``authenticated``."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return "transfer" if path.startswith("/2.0/files/", len(root) if path.startswith(root) else 0) else "authenticated"


async def require_access(request: Request) -> tuple[Runtime, Access]:
    """An authenticated caller bound to a VFS by a contract; raises AuthenticationError or
    ContractNotConfiguredError."""
    rt, principal, _ = await require_principal(request)
    return rt, contracts.resolve(rt.config, principal)


def set_cookies(response: Response, rt: Runtime, request: Request, user: str, token: str) -> None:
    secure = client_info(request, rt.config.server.trusted_proxies).scheme == "https"
    samesite = rt.config.server.cookie_samesite
    for name, value in ((USER_COOKIE, quote(user, safe="")), (SESSION_COOKIE, token)):
        response.set_cookie(name, value, path="/", httponly=True, secure=secure, samesite=samesite)


def clear_cookies(response: Response) -> None:
    for name in (USER_COOKIE, SESSION_COOKIE):
        response.delete_cookie(name, path="/", httponly=True)
