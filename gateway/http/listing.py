"""GET /2.0/directories/<path> and GET /2.0/countelements/<path>."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.catalog.records import FileRecord
from gateway.core import listing
from gateway.core.metadata import system_attributes
from gateway.core.paths import VirtualPath
from gateway.core.timefmt import iso_now
from gateway.http import params, vpath
from gateway.http.credentials import require_access
from gateway.http.envelope import json_response

SEGMENTS = 2  # "2.0", "directories" | "countelements"


def _folder_path(request: Request) -> VirtualPath:
    return vpath.from_request(request, SEGMENTS).path


def _file_element(record: FileRecord, attributes: tuple[str, ...]) -> dict[str, str]:
    system = system_attributes(record)
    element = {"name": record.name, "type": "file", "fileset": str(record.fileset)}
    for name in attributes:
        element[name] = system.get(name, "")  # as documented: an unknown attribute is empty
    return element


async def directories(request: Request) -> Response:
    rt, access = await require_access(request)
    path = _folder_path(request)
    query = params.list_query(request.query_params)
    attributes = params.attributes(request.query_params)
    result = await listing.list_folder(rt, access, path, query)
    elements: list[dict[str, str]] = [{"name": name, "type": "folder"} for name in result.folders]
    elements.extend(_file_element(r, attributes) for r in result.files)
    body = {
        "result": "ok",
        "timestamp": iso_now(),
        "path": path.text,
        "start": query.start,
        "limit": query.limit,
        "total": result.total,
        "elements": elements,
    }
    return json_response(body)


async def countelements(request: Request) -> Response:
    rt, access = await require_access(request)
    path = _folder_path(request)
    q = request.query_params
    n = await listing.count(rt, access, path, params.pattern(q), params.element_type(q))
    return Response(str(n), media_type="application/json")  # as documented: the bare number
