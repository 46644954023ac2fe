"""Who is calling: a configured user, seen through one protocol from one address."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    user: str
    actor: str
    groups: frozenset[str]
    protocol: str  # "http" or "https": the client-facing scheme, after trusted-proxy resolution
    client_address: str
