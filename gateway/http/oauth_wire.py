"""What ``/token`` and ``/oauth2/*`` share on the wire: RFC 6749 error bodies, ``no-store``
answers, request parameters from a form or a JSON body, and the issuer URL.

These endpoints do not use the ``/2.0`` envelope: clients of token endpoints parse RFC 6749
JSON (``{"error": ..., "error_description": ...}``), so domain errors raised below them are
translated here, in :func:`oauth_errors`, not by the /2.0 exception handlers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from gateway.core.runtime import Runtime
from gateway.errors import AgreementEndedError, AuthenticationError, GatewayError, RateLimitedError
from gateway.http import ratelimit
from gateway.http.auth import read_small_body
from gateway.http.envelope import json_response
from gateway.http.proxy import client_info

MAX_BODY = 16 * 1024
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An RFC 6749 error answer; ``description`` is shown to the client (never a secret)."""

    def __init__(self, error: str, description: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        self.error, self.description, self.status, self.headers = error, description, status, headers or {}
        super().__init__(f"{error}: {description}")


def answer(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return json_response(body, status, {**NO_STORE, **(headers or {})})


Handler = Callable[[Request], Awaitable[Response]]


def oauth_errors(handler: Handler) -> Handler:
    """Answer OAuthError, and the domain errors a credential check raises, as RFC 6749 JSON."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except OAuthError as exc:
            return answer({"error": exc.error, "error_description": exc.description}, exc.status, exc.headers)
        except AgreementEndedError as exc:
            return answer({"error": "invalid_grant", "error_description": exc.message}, 410)
        except AuthenticationError as exc:
            return answer({"error": "invalid_client", "error_description": exc.message}, 401)
        except RateLimitedError as exc:
            retry = getattr(exc, "retry_after", None)
            headers = {"Retry-After": str(int(retry))} if retry is not None else None
            return answer({"error": "temporarily_unavailable", "error_description": exc.message}, 429, headers)
        except GatewayError as exc:
            if exc.error_type in ("request_syntax", "limit"):
                return answer({"error": "invalid_request", "error_description": exc.message}, 400)
            raise

    return wrapped


async def parameters(request: Request) -> dict[str, str]:
    """The body's parameters, from ``application/x-www-form-urlencoded`` or a JSON object of
    strings (seed 000 posts JSON). A parameter given twice is ``invalid_request`` (RFC 6749 3.2)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await read_small_body(request, MAX_BODY)
    if media == "application/json":
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_request", "the body is not valid JSON") from None
        if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
            raise OAuthError("invalid_request", "the JSON body must be an object of string values")
        return document
    if media not in ("application/x-www-form-urlencoded", ""):
        raise OAuthError("invalid_request", "send application/x-www-form-urlencoded or application/json")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body.strip()))
    except (ValueError, UnicodeDecodeError):
        raise OAuthError("invalid_request", "the form body cannot be parsed") from None
    twice = sorted(name for name, values in fields.items() if len(values) > 1)
    if twice:
        raise OAuthError("invalid_request", f"parameter '{twice[0]}' is given more than once")
    return {name: values[0] for name, values in fields.items()}


async def public_charge(request: Request, rt: Runtime) -> None:
    """Token endpoints are public: counted per client address, before any credential check."""
    address = client_info(request, rt.config.server.trusted_proxies).address
    await ratelimit.charge(request, rt, f"addr:{address}", "public")


def issuer(rt: Runtime, request: Request) -> str:
    """The configured ``public_url``, else this request's own base URL (scheme after the
    trusted-proxy resolution, and the Host header)."""
    if rt.config.server.public_url:
        return rt.config.server.public_url
    scheme = client_info(request, rt.config.server.trusted_proxies).scheme
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{scheme}://{host}{request.scope.get('root_path', '')}"
