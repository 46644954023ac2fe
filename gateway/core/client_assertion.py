"""OAuth 2.0 client authentication by signed JWT assertion (RFC 7523 ``private_key_jwt``).

Interface; the implementation is pending. The OAuth token endpoints (``/oauth2/token``, and seed
000's ``/v1/oauth/token``) call :func:`verify` when a request carries ``client_assertion_type`` =
``urn:ietf:params:oauth:client-assertion-type:jwt-bearer``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from gateway.core.runtime import Runtime

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True, slots=True)
class AssertionKey:
    """One registered public key of a client: the JWT header's ``kid`` selects it."""

    kid: str
    alg: Literal["ES256", "RS256"]
    public_key_pem: str


class AssertionError_(Exception):
    """The assertion is not acceptable; ``reason`` is safe to log, never shown in detail."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


async def verify(
    rt: Runtime,
    assertion: str,
    *,
    keys: Mapping[str, Sequence[AssertionKey]],
    audiences: Sequence[str],
    client_id: str | None = None,
) -> str:
    """The authenticated client id, or ``AssertionError_``.

    ``keys`` maps each client id to its registered keys; ``audiences`` are the token endpoint URLs
    this request may be addressed to; ``client_id`` is the one the request named, if any (it must
    then equal ``iss`` and ``sub``). Replayed ``jti`` values are refused across all peers.
    """
    raise AssertionError_("private_key_jwt is not implemented yet")
