"""PUT / POST / GET / DELETE /2.0/files/<path>: parse, one core call, render."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from gateway.core import files
from gateway.errors import RequestSyntaxError
from gateway.http import vpath
from gateway.http.credentials import require_access
from gateway.http.downloads import FileDownload
from gateway.http.envelope import ok
from gateway.http.exception_handlers import DeleteSyntaxError
from gateway.http.headers import header
from gateway.http.upload import MultipartSource

SEGMENTS = 2  # "2.0", "files"
AGENT_TRANSFER_HEADER = b"x-mft-transfer-id"  # an agent's own /api transfer row for this request


async def _upload(request: Request, to_folder: bool) -> Response:
    rt, access = await require_access(request)
    req = vpath.from_request(request, SEGMENTS)
    source = MultipartSource(request, rt.config.server.max_metadata_bytes)
    record = await files.upload(rt, access, req, source, to_folder=to_folder,
                                agent_transfer=header(request, AGENT_TRANSFER_HEADER))  # fmt: skip
    return ok("Upload successful", record.fileset, status=201)


async def put(request: Request) -> Response:
    return await _upload(request, to_folder=False)


async def post(request: Request) -> Response:
    return await _upload(request, to_folder=True)


async def get(request: Request) -> ASGIApp:
    rt, access = await require_access(request)
    # HEAD transfers no content: it is not a read (no firstReadDate, no retention clock, no event).
    record, reader = await files.open_download(
        rt,
        access,
        vpath.from_request(request, SEGMENTS),
        record_read=request.method != "HEAD",
        agent_transfer=header(request, AGENT_TRANSFER_HEADER),
    )
    return FileDownload(request, record, reader)


async def delete(request: Request) -> Response:
    rt, access = await require_access(request)
    try:
        req = vpath.from_request(request, SEGMENTS)
        record = await files.delete(rt, access, req)
    except RequestSyntaxError:
        raise DeleteSyntaxError() from None  # as documented: DELETE's 400 is "syntax_error"
    return ok("File deleted", record.fileset)
