"""GET /health (the process answers) and GET /ready (catalog and every storage usable)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import GatewayError, UnavailableError
from gateway.http.envelope import json_response
from gateway.http.state import runtime


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


async def ready(request: Request) -> Response:
    rt = await runtime(request)
    try:
        await rt.db.check()
    except Exception as exc:
        raise UnavailableError("Catalog is not reachable") from exc
    checks = {"catalog": "ok"}
    for name, backend in rt.mounts.backends.items():
        try:
            await backend.check()
        except GatewayError as exc:
            raise UnavailableError(f"Storage '{name}' is not usable") from exc
        checks[f"storage:{name}"] = "ok"
    return json_response({"status": "ready", "checks": checks})
