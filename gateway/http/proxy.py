"""Client address and scheme, believing ``X-Forwarded-*`` only from configured proxies.

Behind a load balancer the TCP peer is the balancer; the partner's address (for audit and
events) and the scheme it used (which decides between http and https contracts, and the
cookies' ``Secure`` flag) come from the forwarded headers, but only when the peer is trusted:
anyone else could claim any address or scheme.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ClientInfo:
    address: str
    scheme: str


@functools.lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(t, strict=False) for t in trusted)


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def client_info(conn: HTTPConnection, trusted: tuple[str, ...]) -> ClientInfo:
    peer = conn.client.host if conn.client else ""
    scheme = conn.scope.get("scheme", "http")  # what conn.url.scheme says, without building the URL
    networks = _networks(trusted)
    if not networks or not _is_trusted(peer, networks):
        return ClientInfo(peer, scheme)
    address = peer
    forwarded = conn.headers.get("x-forwarded-for")
    if forwarded:
        # Walk from the nearest hop outwards; the first untrusted hop is the real client.
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if not _is_ip(hop):
                break  # not an address: keep the last one a trusted hop vouched for
            address = hop
            if not _is_trusted(hop, networks):
                break
    proto = conn.headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
    if proto in ("http", "https"):
        scheme = proto
    return ClientInfo(address[:64], scheme)
