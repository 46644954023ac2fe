"""Build a RequestPath from the raw request path, never from Starlette's decoded one.

Starlette routes on the decoded path, where ``%2F`` has already become ``/``; the spec rejects
an encoded separator inside a name, so the path is re-read from ``scope["raw_path"]``, the
leading segments of the mount prefix and the endpoint are dropped, and each remaining segment
is decoded once by :func:`gateway.core.paths.parse_raw`.
"""

from __future__ import annotations

from starlette.requests import Request

from gateway.core.paths import RequestPath, parse_raw
from gateway.errors import InvalidPathError


def from_request(request: Request, endpoint_segments: int) -> RequestPath:
    """Parse the part of the path after ``/<root_path>/2.0/<endpoint>/``."""
    raw = request.scope.get("raw_path")
    if raw is None:
        raw = request.url.path.encode("utf-8")
    if b"?" in raw:
        raw = raw.split(b"?", 1)[0]
    root = request.scope.get("root_path", "").strip("/")
    skip = (len(root.split("/")) if root else 0) + endpoint_segments
    parts = raw.lstrip(b"/").split(b"/", skip)
    # The route matched the decoded path: an encoded separator in the endpoint's own segments
    # ("/2.0/files%2Finbox/x") would shift what is taken for the virtual path.
    if b"%" in raw and any(b"%" in segment for segment in parts[skip - endpoint_segments : skip]):
        raise InvalidPathError()
    if len(parts) <= skip:
        if len(parts) == skip:
            return parse_raw(b"")
        raise InvalidPathError()
    rest = parts[skip]
    if rest.startswith(b"/"):
        raise InvalidPathError("Invalid path: empty segment")  # "/2.0/files//inbox/x"
    return parse_raw(rest)
