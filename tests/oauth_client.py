"""The client side of ``private_key_jwt`` (RFC 7523), as seed 000's script does it, for tests.

A client makes a key pair, registers the public half with the gateway under a key id, and for each
token request signs a fresh assertion: ES256, ``kid`` in the header, claims ``aud`` = the token
endpoint URL, ``iss`` = ``sub`` = the client id, a random ``jti``, ``iat`` = ``nbf`` = now and
``exp`` = now + 240 s. ::

    key = ClientKey.generate("k1")                       # ES256; ClientKey.generate("k2", "RS256")
    registered = key.assertion_key()                     # what the gateway's config holds
    token = key.assertion("tenant-1", "https://gw.example/oauth2/token")
    body = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": token}

``assertion`` takes overrides to build the bad ones: ``claims={"aud": "x"}`` replaces or adds
claims (a value of ``DROP`` removes one), ``headers={...}`` likewise for the header.
"""

from __future__ import annotations

import base64
import functools
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import get_default_algorithms

from gateway.core.client_assertion import ASSERTION_TYPE, AssertionKey

__all__ = ["ASSERTION_TYPE", "DROP", "SEED_LIFETIME", "ClientKey", "private_pem", "public_pem"]

SEED_LIFETIME = 240  # seconds: seed 000's exp = now + 240
DROP: Any = object()  # an override value that removes the claim or header parameter


def private_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def public_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


@dataclass(frozen=True)
class ClientKey:
    """A client's key pair: the private half signs, ``assertion_key()`` is what the gateway registers."""

    kid: str
    alg: Literal["ES256", "RS256"]
    private_pem: str
    public_pem: str

    @classmethod
    def generate(cls, kid: str, alg: Literal["ES256", "RS256"] = "ES256", rsa_bits: int = 2048) -> ClientKey:
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
        if alg == "ES256":
            key = ec.generate_private_key(ec.SECP256R1())
        else:
            key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        return cls(kid, alg, private_pem(key), public_pem(key))

    def assertion_key(self) -> AssertionKey:
        return AssertionKey(kid=self.kid, alg=self.alg, public_key_pem=self.public_pem)

    def claims(self, client_id: str, audience: str, *, now: int | None = None) -> dict[str, Any]:
        """Seed 000's claims for one token request."""
        now = int(time.time()) if now is None else now
        return {
            "aud": audience,
            "jti": str(uuid.uuid4()),
            "iat": now,
            "nbf": now,
            "exp": now + SEED_LIFETIME,
            "iss": client_id,
            "sub": client_id,
        }

    def assertion(
        self,
        client_id: str,
        audience: str,
        *,
        now: int | None = None,
        claims: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed assertion as seed 000 builds it (``jwt.encode`` there: header ``alg``, ``kid``,
        ``typ: JWT``), with ``claims``/``headers`` overridden. Overrides go in as they are, even
        invalid ones (a header ``alg`` that lies, a non-string ``iss``): the signature is always
        this key's own."""
        payload = _merged(self.claims(client_id, audience, now=now), claims)
        header = _merged({"alg": self.alg, "kid": self.kid, "typ": "JWT"}, headers)
        return self.sign(header, json.dumps(payload).encode())

    def sign(self, header: Mapping[str, Any], payload: bytes) -> str:
        """A compact JWS of ``payload`` under exactly ``header``, signed with this key."""
        signing_input = _b64(json.dumps(header).encode()) + "." + _b64(payload)
        algorithm, key = _signer(self.alg, self.private_pem)
        return signing_input + "." + _b64(algorithm.sign(signing_input.encode(), key))


@functools.lru_cache(maxsize=64)
def _signer(alg: str, pem: str) -> tuple[Any, Any]:
    """The algorithm and the parsed private key: parsing an RSA key checks it, ~50 ms each time."""
    algorithm = get_default_algorithms()[alg]
    return algorithm, algorithm.prepare_key(pem)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _merged(base: dict[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    for name, value in (overrides or {}).items():
        if value is DROP:
            base.pop(name, None)
        else:
            base[name] = value
    return base
