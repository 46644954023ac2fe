"""Unknown ``/api`` paths (404) and wrong methods (405, with ``Allow``) in the ``/api`` envelope.

Mounted after every other route (gateway/http/routes.py), so it sees only what nothing else
matched; a path some ``/api`` route knows under another method is a 405.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route

from gateway.http.mftplus.envelope import fail

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def not_found(request: Request) -> Response:
    from gateway.http import mftplus  # the package's route table, complete once imported

    allowed: set[str] = set()
    for route in mftplus.ROUTES:
        if isinstance(route, Route) and route.matches(request.scope)[0] is Match.PARTIAL:
            allowed |= route.methods or set()
    if allowed:
        methods = ", ".join(sorted(allowed))
        return fail(405, "Method not allowed", {"type": "method_not_allowed", "allow": sorted(allowed)},
                    headers={"Allow": methods})  # fmt: skip
    return fail(404, "Not found", {"type": "not_found", "path": request.url.path[:256]})


FALLBACK: list[BaseRoute] = [
    Route("/api", not_found, methods=_METHODS, name="api:not-found-root"),
    Route("/api/{rest:path}", not_found, methods=_METHODS, name="api:not-found"),
]
