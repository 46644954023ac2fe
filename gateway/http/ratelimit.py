"""Request rate limits per principal and endpoint class (interface; the implementation is pending).

``key`` names who is counted: ``user:<name>``, ``apikey:<id>``, ``client:<id>``, ``agent:<id>``, or
``addr:<address>`` for anonymous requests. ``tier`` is the endpoint class: ``public``,
``authenticated``, ``agent`` or ``transfer`` (file transfers on ``/2.0``).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from gateway.core.runtime import Runtime


async def charge(conn: HTTPConnection, rt: Runtime, key: str, tier: str) -> None:
    """Count one request; raise ``RateLimitedError`` when over the limit. Never a catalog round
    trip per request: counts are kept in memory and reconciled across peers in the background."""
