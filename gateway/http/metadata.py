"""GET /2.0/metadata/<path> (also the documented /2.0/meadata/ spelling) and POST."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.core import files
from gateway.core.timefmt import iso_now
from gateway.errors import RequestSyntaxError
from gateway.http import vpath
from gateway.http.auth import read_small_body
from gateway.http.credentials import require_access
from gateway.http.envelope import json_response, ok

SEGMENTS = 2  # "2.0", "metadata" | "meadata"


async def get(request: Request) -> Response:
    rt, access = await require_access(request)
    values = await files.read_metadata(rt, access, vpath.from_request(request, SEGMENTS))
    return json_response({"result": "ok", "timestamp": iso_now(), "metadata": values})


async def post(request: Request) -> Response:
    rt, access = await require_access(request)
    req = vpath.from_request(request, SEGMENTS)
    if "content-type" not in request.headers:
        raise RequestSyntaxError()  # as documented: a missing content-type is a syntax error
    body = await read_small_body(request, rt.config.server.max_metadata_bytes)
    record = await files.write_metadata(rt, access, req, body)
    return ok("Metadata updated", record.fileset)
