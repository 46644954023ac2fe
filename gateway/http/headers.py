"""One request header, read straight from the ASGI scope.

``request.headers.get(name)`` builds Starlette's ``Headers`` view, lower-cases and encodes the
name on every call, and a header that is absent (most of them, on a transfer: ``Range``,
``If-Range``, ``Authorization``, ``X-API-Key``, the agent's header) costs a ``KeyError``
raised and caught. The hot routes ask for five of them per request; this scan asks the
server's list directly (ASGI servers hand header names over in lower case) with the same
answer: the first value of that name, decoded as latin-1, or None.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection


def header(conn: HTTPConnection, name: bytes) -> str | None:
    """The first ``name`` header (``name`` in lower case) of the request, or None."""
    raw: list[tuple[bytes, bytes]] = conn.scope["headers"]
    for key, value in raw:
        if key == name:
            return value.decode("latin-1")
    return None


def only_raw(conn: HTTPConnection, name: bytes) -> bytes | None:
    """The raw value of the request's one ``name`` header; None if it has none or several."""
    found = None
    for key, value in conn.scope["headers"]:
        if key == name:
            if found is not None:
                return None
            found = value
    return found
