"""The OAuth 2.0 authorization server: ``POST /oauth2/token`` (client credentials grant, RFC 6749
4.4), ``POST /oauth2/revoke`` (RFC 7009), ``POST /oauth2/introspect`` (RFC 7662), the RFC 8414
metadata and the JWK Set.

Clients (``oauth-clients.yaml``) authenticate with ``client_secret_basic``,
``client_secret_post`` or ``private_key_jwt`` (the assertion is checked by
``gateway.core.client_assertion.verify``, its audience being this token endpoint's URL); exactly
one method per request. Every answer is ``Cache-Control: no-store``; errors are RFC 6749 JSON,
and ``invalid_client`` carries ``WWW-Authenticate`` when the client used the Authorization header.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.catalog import audit, passwords
from gateway.config.schema import OAuthClient
from gateway.core import client_assertion, defender, machine, tokens
from gateway.core.principal import SCOPES
from gateway.core.runtime import Runtime
from gateway.errors import AgreementEndedError, AuthenticationError
from gateway.http.auth import _VERIFY_SLOTS
from gateway.http.envelope import json_response
from gateway.http.oauth_wire import OAuthError, answer, issuer, oauth_errors, parameters, public_charge
from gateway.http.proxy import client_info
from gateway.http.state import runtime

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="mft-gateway", charset="UTF-8"'}


def _invalid_client(basic: bool) -> OAuthError:
    return OAuthError("invalid_client", "client authentication failed", 401, _CHALLENGE if basic else None)


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "use HTTP Basic client authentication", 401, _CHALLENGE)
    try:
        client_id, sep, secret = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid_client(True) from None
    if not sep or not client_id:
        raise _invalid_client(True)
    # RFC 6749 2.3.1: both are form-urlencoded before being joined.
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


async def authenticate_client(
    rt: Runtime, request: Request, params: dict[str, str], endpoint: str = "/oauth2/token"
) -> OAuthClient:
    """The registered, enabled client this request authenticates as; raises OAuthError.
    ``endpoint``: the path of the token endpoint called, the audience of an assertion."""
    basic = _basic(request)
    assertion = params.get("client_assertion")
    assertion_type = params.get("client_assertion_type")
    methods = [basic is not None, "client_secret" in params, assertion is not None or assertion_type is not None]
    if sum(methods) > 1:
        raise OAuthError("invalid_request", "use exactly one client authentication method")
    address = client_info(request, rt.config.server.trusted_proxies).address
    if assertion is not None or assertion_type is not None:
        return await _by_assertion(rt, request, params, address, endpoint)
    if basic is not None:
        client_id, secret = basic
    elif "client_secret" in params and params.get("client_id"):
        client_id, secret = params["client_id"], params["client_secret"]
    else:
        raise _invalid_client(False)
    account = f"client:{client_id[:128]}"
    await defender.guard(rt, address, account)
    client = rt.config.oauth_clients.get(client_id)
    known = client.secret_hash if client is not None and client.enabled else None
    async with _VERIFY_SLOTS:
        valid = await asyncio.to_thread(passwords.verify, secret, known)
    if not valid or client is None:
        await defender.failed(rt, address, account, known=client is not None)
        raise _invalid_client(basic is not None)
    await defender.succeeded(rt, address, account)
    return client


async def _by_assertion(
    rt: Runtime, request: Request, params: dict[str, str], address: str, endpoint: str
) -> OAuthClient:
    if params.get("client_assertion_type") != client_assertion.ASSERTION_TYPE or not params.get("client_assertion"):
        raise OAuthError("invalid_request", f"client_assertion_type must be {client_assertion.ASSERTION_TYPE}")
    named = params.get("client_id")
    account = f"client:{named[:128]}" if named else None
    await defender.guard(rt, address, account)
    keys = {cid: c.keys for cid, c in rt.config.oauth_clients.items() if c.keys and c.enabled}
    try:
        client_id = await client_assertion.verify(
            rt, params["client_assertion"], keys=keys, audiences=[f"{issuer(rt, request)}{endpoint}"],
            client_id=named,
        )  # fmt: skip
    except client_assertion.AssertionError_:
        await defender.failed(rt, address, account, known=named in rt.config.oauth_clients)
        raise _invalid_client(False) from None
    client = rt.config.oauth_clients.get(client_id)
    if client is None or not client.enabled:
        raise _invalid_client(False)
    await defender.succeeded(rt, address, f"client:{client_id}")
    return client


@oauth_errors
async def token(request: Request) -> Response:
    return await issue(request, "/oauth2/token")


async def issue(request: Request, endpoint: str) -> Response:
    """The token endpoint at path ``endpoint`` (``/oauth2/token``; seed 000's ``/v1/oauth/token``
    is the same server, so an assertion's audience names the URL it was sent to)."""
    rt = await runtime(request)
    await public_charge(request, rt)
    params = await parameters(request)
    if not params.get("grant_type"):
        raise OAuthError("invalid_request", "grant_type is required")
    client = await authenticate_client(rt, request, params, endpoint)
    if params["grant_type"] != "client_credentials":
        raise OAuthError("unsupported_grant_type", "only grant_type=client_credentials is supported")
    asked = params.get("scope")
    scopes = frozenset(asked.split()) if asked else client.scopes
    if not scopes or not scopes <= client.scopes:
        unknown = sorted(scopes - client.scopes)
        raise OAuthError("invalid_scope", f"not granted to this client: {' '.join(unknown) or '(none)'}")
    try:
        owner = machine.owner(rt, client.principal)
    except (AgreementEndedError, AuthenticationError) as exc:
        raise OAuthError("invalid_grant", exc.message) from None
    seconds = rt.config.server.oauth_token_minutes * 60
    issued = await tokens.issue(
        rt, owner, credential=f"client:{client.client_id}", client_id=client.client_id, version=0,
        scopes=scopes & owner.scopes, seconds=seconds, issuer=issuer(rt, request),
    )  # fmt: skip
    address = client_info(request, rt.config.server.trusted_proxies).address
    detail = {"jti": issued.jti, "credential": f"client:{client.client_id}", "expires": issued.expires_at}
    await audit.record(rt.db, "token.issued", principal=owner.name, address=address, detail=detail)
    body = {
        "access_token": issued.token,
        "token_type": "Bearer",
        "expires_in": seconds,
        "scope": " ".join(sorted(scopes)),
    }
    return answer(body)


async def _own_claims(rt: Runtime, client: OAuthClient, token: str) -> dict[str, Any] | None:
    """The claims of a live token issued to ``client`` (None for anything else: RFC 7009/7662
    answer alike for unknown, expired, revoked and other clients' tokens)."""
    if not token or len(token) > 8192:
        return None
    try:
        claims = await tokens.verify(rt, token, rt.config.server.public_url)
        owner = machine.owner(rt, str(claims["sub"]))
    except (tokens.InvalidTokenError, AuthenticationError):
        return None
    if claims["cred"] != f"client:{client.client_id}" or claims["ofp"] != tokens.owner_print(owner):
        return None
    return claims


async def _token_of_client(request: Request) -> tuple[Runtime, dict[str, Any] | None]:
    """RFC 7009 and 7662 requests: an authenticated client and the claims of the token it
    names when that token is one of its own and live."""
    rt = await runtime(request)
    await public_charge(request, rt)
    params = await parameters(request)
    client = await authenticate_client(rt, request, params)
    if "token" not in params:
        raise OAuthError("invalid_request", "token is required")
    return rt, await _own_claims(rt, client, params["token"])


@oauth_errors
async def revoke(request: Request) -> Response:
    rt, claims = await _token_of_client(request)
    if claims is not None:
        await tokens.revoke_token(rt, claims)
        address = client_info(request, rt.config.server.trusted_proxies).address
        detail = {"jti": claims["jti"], "credential": claims["cred"]}
        await audit.record(rt.db, "token.revoked", principal=str(claims["sub"]), address=address, detail=detail)
    return answer({})


@oauth_errors
async def introspect(request: Request) -> Response:
    _, claims = await _token_of_client(request)
    if claims is None:
        return answer({"active": False})
    keep = ("scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti")
    return answer({"active": True, "token_type": "Bearer", **{k: claims[k] for k in keep if k in claims}})


async def metadata(request: Request) -> Response:
    rt = await runtime(request)
    base = issuer(rt, request)
    return json_response(
        {
            "issuer": base,
            "token_endpoint": f"{base}/oauth2/token",
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "scopes_supported": list(SCOPES),
            "response_types_supported": [],
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
            "revocation_endpoint": f"{base}/oauth2/revoke",
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "introspection_endpoint": f"{base}/oauth2/introspect",
            "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        }
    )


async def jwks(request: Request) -> Response:
    rt = await runtime(request)
    return json_response(await tokens.jwks(rt), headers={"Cache-Control": "max-age=60"})


ROUTES: list[BaseRoute] = [
    Route("/oauth2/token", token, methods=["POST"], name="oauth2:token"),
    Route("/oauth2/revoke", revoke, methods=["POST"], name="oauth2:revoke"),
    Route("/oauth2/introspect", introspect, methods=["POST"], name="oauth2:introspect"),
    Route("/.well-known/oauth-authorization-server", metadata, methods=["GET"], name="oauth2:metadata"),
    Route("/.well-known/jwks.json", jwks, methods=["GET"], name="oauth2:jwks"),
]
