"""Where every failure becomes the error envelope: one class → status table, looked up by MRO."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gateway import errors
from gateway.http.envelope import failed, json_response

log = logging.getLogger("gateway.http")


class MissingCredentialsError(errors.RequestSyntaxError):
    """Login without a user name or password; answered 404, not 400 (as documented)."""

    default_message = "No username or password"


class DeleteSyntaxError(errors.RequestSyntaxError):
    """DELETE's 400 has its own message and errorType (as documented)."""

    error_type = "syntax_error"
    default_message = "missing param or syntax error"


class RangeNotSatisfiableError(errors.RequestSyntaxError):
    default_message = "Requested range not satisfiable"

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__()


class BearerTokenError(errors.AuthenticationError):
    """A bearer token that is malformed, expired or revoked: 401 with the RFC 6750 challenge."""

    default_message = "Invalid or expired token"


class RequestTimeoutError(errors.RequestSyntaxError):
    """The client stopped sending the request body (gateway.http.deadline); the connection closes."""

    error_type = "timeout"
    default_message = "Request body not received in time"


STATUS: dict[type[errors.GatewayError], int] = {
    errors.GatewayError: 500,
    errors.RequestSyntaxError: 400,
    MissingCredentialsError: 404,
    RangeNotSatisfiableError: 416,
    RequestTimeoutError: 408,
    errors.AuthenticationError: 401,
    errors.AgreementEndedError: 410,
    errors.ConfigurationError: 500,
    errors.ContractNotConfiguredError: 401,  # as documented: 401, errorType configuration
    errors.AuthorizationError: 403,
    errors.IoError: 500,
    errors.NotFoundError: 404,
    errors.LimitExceededError: 413,
    errors.QuotaExceededError: 507,
    errors.RateLimitedError: 429,
    errors.UnavailableError: 503,
}


def status_for(exc: errors.GatewayError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


async def gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.GatewayError)
    status = status_for(exc)
    message = exc.message
    if status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.message, exc_info=exc.__cause__)
        if isinstance(exc, errors.IoError) or type(exc) is errors.GatewayError:
            message = exc.default_message if type(exc) is errors.GatewayError else "I/O error"
    return failed(message, exc.error_type, status, _headers(exc))


def _headers(exc: errors.GatewayError) -> dict[str, str] | None:
    """The response headers some errors carry besides the envelope."""
    if isinstance(exc, RangeNotSatisfiableError):
        return {"Content-Range": f"bytes */{exc.size}"}
    if isinstance(exc, BearerTokenError):
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    if isinstance(exc, errors.RateLimitedError) and exc.retry_after is not None:
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, RequestTimeoutError):
        return {"Connection": "close"}  # the rest of the body is not waited for
    return None


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no such route, wrong method) in the same envelope."""
    assert isinstance(exc, HTTPException)
    messages = {404: "Not found", 405: "Method not allowed"}
    message = messages.get(exc.status_code, str(exc.detail))
    if _is_api(request):
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "request_syntax")
        return api_failed(message, kind, exc.status_code, dict(exc.headers or {}))
    return failed(message, "request_syntax", exc.status_code, dict(exc.headers or {}))


async def server_error(request: Request, exc: Exception) -> Response:
    """Anything unforeseen: logged with its traceback, answered without one."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if _is_api(request):
        return api_failed("Internal server error", "server", 500)
    return failed("Internal server error", "server", 500)


# i13a: seed 001's /api answers its unknown paths, wrong methods and bugs in its own envelope.
def _is_api(request: Request) -> bool:
    path = request.scope.get("path", "")
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return bool(path == "/api" or path.startswith("/api/"))


def api_failed(message: str, kind: str, status: int, headers: dict[str, str] | None = None) -> Response:
    """``{"success": false, "error": …, "details": {"type": …}}`` (gateway/http/mftplus/envelope.py)."""
    return json_response({"success": False, "error": message, "details": {"type": kind}}, status, headers)


HANDLERS = {errors.GatewayError: gateway_error, HTTPException: http_exception, Exception: server_error}
