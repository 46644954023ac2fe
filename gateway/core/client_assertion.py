"""OAuth 2.0 client authentication by signed JWT assertion (RFC 7523 ``private_key_jwt``).

The OAuth token endpoints (``/oauth2/token``, and seed 000's ``/v1/oauth/token``) call
:func:`verify` when a request carries ``client_assertion_type`` = :data:`ASSERTION_TYPE`. The
client signs a short-lived JWT with its private key; the gateway holds only the public keys
(:class:`AssertionKey`) registered for the client. The rules (docs/machine-access-assertions.md):

- At most ``MAX_ASSERTION_BYTES`` of compact JWS, checked before anything is decoded.
- Header: ``alg`` ES256 or RS256 and equal to the selected key's ``alg`` (never ``none``, HS*,
  or an algorithm the key was not registered for); ``kid`` selects among the client's keys and
  may be left out only by a client with exactly one key; ``crit`` and ``b64`` are refused;
  ``typ``, if present, is ``JWT`` or ``client-authentication+jwt``.
- Claims: ``iss`` == ``sub`` == the client id (and the one the request named, if any); ``aud``
  (a string or a list) contains one of the token endpoint URLs; ``exp`` required, not passed;
  ``nbf`` and ``iat`` optional, not in the future; all three with ``leeway``; the lifetime
  (``exp`` - ``iat``, or ``exp`` - now without ``iat``) at most the configured maximum; ``jti``
  required, and accepted once per client on every peer until the assertion expires
  (gateway/catalog/replay.py).

Every refusal is an :class:`AssertionError_` whose ``reason`` is a fixed phrase (plus numbers at
most): it never contains the assertion or any text taken from it, so it can be logged as is.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from gateway.catalog import replay
from gateway.core.runtime import Runtime

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

Algorithm = Literal["ES256", "RS256"]
ALGORITHMS: tuple[Algorithm, ...] = get_args(Algorithm)
MAX_ASSERTION_BYTES = 8192
MIN_RSA_BITS = 2048
_TYPES = frozenset({"jwt", "client-authentication+jwt"})  # media types compare case-insensitively
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

if TYPE_CHECKING:  # PyJWT and cryptography are imported when a key is first read (~9 MiB a process)
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True, slots=True)
class AssertionKey:
    """One registered public key of a client: the JWT header's ``kid`` selects it.

    ``kid`` values are unique among one client's keys. ``public_key_pem`` is a SubjectPublicKeyInfo
    PEM (``-----BEGIN PUBLIC KEY-----``): a P-256 key for ES256, an RSA key of at least 2048 bits for
    RS256. :func:`check_key` says whether a key is usable, :func:`check_client` whether a client's
    keys are; the configuration loader calls the latter.
    """

    kid: str
    alg: Literal["ES256", "RS256"]
    public_key_pem: str


class AssertionError_(Exception):
    """The assertion is not acceptable; ``reason`` is safe to log, never shown in detail.

    The token endpoint answers every such refusal alike (RFC 6749 ``invalid_client``): telling the
    caller which check failed would help an attacker more than an honest client.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def check_key(key: AssertionKey) -> None:
    """ValueError (with a message fit for a configuration error) unless ``key`` can verify
    assertions: a known ``alg``, a non-empty ``kid``, and a PEM public key of the matching type."""
    if key.alg not in ALGORITHMS:
        raise ValueError(f"unsupported algorithm {key.alg!r} (expected one of {', '.join(ALGORITHMS)})")
    if not key.kid:
        raise ValueError("the key id (kid) must not be empty")
    _public_key(key.public_key_pem, key.alg)


def check_client(client_id: str, keys: Sequence[AssertionKey]) -> None:
    """ValueError unless a client so registered can authenticate: a client id that fits the replay
    record (1 to 255 printable characters), at least one key, every key usable (:func:`check_key`)
    and no ``kid`` twice. The configuration loader calls it for each ``private_key_jwt`` client."""
    if not client_id or len(client_id) > replay.MAX_LENGTH or not client_id.isprintable():
        raise ValueError(f"the client id must be 1 to {replay.MAX_LENGTH} printable characters")
    if not keys:
        raise ValueError("a private_key_jwt client needs at least one public key")
    seen: set[str] = set()
    for key in keys:
        if key.kid in seen:
            raise ValueError(f"key id {key.kid!r} is registered twice")
        seen.add(key.kid)
        try:
            check_key(key)
        except ValueError as exc:
            raise ValueError(f"key {key.kid!r}: {exc}") from None


async def verify(
    rt: Runtime,
    assertion: str,
    *,
    keys: Mapping[str, Sequence[AssertionKey]],
    audiences: Sequence[str],
    client_id: str | None = None,
) -> str:
    """The authenticated client id, or ``AssertionError_``.

    ``keys`` maps each client id to its registered keys (each client checked by
    :func:`check_client` when the configuration was loaded); ``audiences`` are the token endpoint
    URLs this request may be addressed to (compared exactly, as strings; none refuses everything),
    taken from configuration, not from the request's Host header;
    ``client_id`` is the one the request named, if any (it must then equal ``iss`` and ``sub``). The
    lifetime limit and the leeway come from ``rt.config.server``
    (``client_assertion_max_lifetime_seconds``, ``client_assertion_leeway_seconds``).

    The caller answers every refusal alike (``invalid_client``), logs ``reason``, and counts it as a
    failed credential check; the client id it may log is the returned one, never ``iss`` unchecked.

    Only an assertion that passes every other check is recorded: its ``jti`` is then spent on every
    peer, and a second :func:`verify` of it (concurrent or not, here or elsewhere) is refused with
    reason ``"jti replayed"``. A catalog failure while recording propagates as is (not as a refusal).
    """
    header, claims = _decode_unverified(assertion)
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise AssertionError_("iss missing or not a string")
    if client_id is not None and issuer != client_id:
        raise AssertionError_("iss does not match the client_id of the request")
    key = _select_key(header, keys.get(issuer))
    try:
        public_key = _public_key(key.public_key_pem, key.alg)
    except ValueError:
        raise AssertionError_("the selected registered key is unusable (check_key says why)") from None
    import jwt  # see PublicKey

    try:
        jwt.PyJWS().decode_complete(assertion, public_key, algorithms=[key.alg])
    except jwt.PyJWTError:
        raise AssertionError_("signature does not verify with the selected key") from None

    server = rt.config.server
    leeway = server.client_assertion_leeway_seconds
    exp = _check_claims(
        claims, audiences, now=time.time(), leeway=leeway, max_lifetime=server.client_assertion_max_lifetime_seconds
    )
    jti = claims["jti"]
    if not await replay.remember(rt.db, issuer, jti, expires_at=math.ceil((exp + leeway) * 1_000_000)):
        raise AssertionError_("jti replayed")
    return issuer


def _decode_unverified(assertion: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and the claims, checked for shape only (the signature is checked later)."""
    if not isinstance(assertion, str):
        raise AssertionError_("assertion is not a string")
    if len(assertion) > MAX_ASSERTION_BYTES:
        raise AssertionError_(f"assertion larger than {MAX_ASSERTION_BYTES} bytes")
    if not _COMPACT_JWS.fullmatch(assertion):
        raise AssertionError_("assertion is not a compact JWS")
    encoded_header, encoded_claims, _ = assertion.split(".")
    header = _json_object(encoded_header, "header")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise AssertionError_("alg missing or not allowed (ES256, RS256)")
    if "crit" in header or "b64" in header:
        raise AssertionError_("crit or b64 header parameter present")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _TYPES):
        raise AssertionError_("typ is neither JWT nor client-authentication+jwt")
    return header, _json_object(encoded_claims, "claims")


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw, object_pairs_hook=_no_duplicates)
    except (binascii.Error, ValueError, RecursionError):  # ValueError: UnicodeDecodeError, JSONDecodeError
        raise AssertionError_(f"{what} is not valid base64url JSON without duplicate names") from None
    if not isinstance(value, dict):
        raise AssertionError_(f"{what} is not a JSON object")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse an object naming a member twice: parsers disagree on which one wins."""
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _select_key(header: Mapping[str, Any], registered: Sequence[AssertionKey] | None) -> AssertionKey:
    if not registered:
        raise AssertionError_("unknown client (no registered keys for iss)")
    if "kid" in header:
        kid = header["kid"]
        matches = [k for k in registered if k.kid == kid] if isinstance(kid, str) else []
        if not matches:
            raise AssertionError_("kid matches none of the client's keys")
        if len(matches) > 1:
            raise AssertionError_("kid matches several of the client's keys")
        key = matches[0]
    elif len(registered) == 1:
        key = registered[0]
    else:
        raise AssertionError_("kid missing and the client has several keys")
    if header["alg"] != key.alg:
        raise AssertionError_("alg differs from the algorithm the key is registered for")
    return key


@functools.lru_cache(maxsize=256)
def _load(pem: str, alg: str) -> PublicKey:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError, UnicodeError):
        raise ValueError("not a PEM public key (-----BEGIN PUBLIC KEY-----)") from None
    if alg == "ES256":
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("ES256 needs an EC P-256 key")
        return key
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("RS256 needs an RSA key")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"RSA key of {key.key_size} bits (at least {MIN_RSA_BITS} needed)")
    return key


def _public_key(pem: str, alg: str) -> PublicKey:
    """The parsed key (parsed once per PEM), or ValueError."""
    try:
        return _load(pem, alg)
    except ValueError:
        raise
    except Exception as exc:  # anything else cryptography may raise on a hostile PEM
        raise ValueError(f"unusable public key: {type(exc).__name__}") from None


def _check_claims(
    claims: Mapping[str, Any], audiences: Sequence[str], *, now: float, leeway: float, max_lifetime: float
) -> float:
    """The checks on signed claims other than the replay; ``exp`` when they all pass."""
    if claims.get("sub") != claims["iss"]:
        raise AssertionError_("sub differs from iss")
    aud = claims.get("aud")
    listed = [aud] if isinstance(aud, str) else aud
    if not isinstance(listed, list) or not listed or not all(isinstance(a, str) for a in listed):
        raise AssertionError_("aud missing or not a string or a list of strings")
    if not any(a in audiences for a in listed):
        raise AssertionError_("aud names none of this token endpoint's URLs")
    exp = _time(claims, "exp")
    if exp is None:
        raise AssertionError_("exp missing")
    nbf = _time(claims, "nbf")
    iat = _time(claims, "iat")
    if now >= exp + leeway:
        raise AssertionError_("expired (exp has passed)")
    if nbf is not None and nbf > now + leeway:
        raise AssertionError_("not yet valid (nbf is in the future)")
    if iat is not None and iat > now + leeway:
        raise AssertionError_("issued in the future (iat)")
    lifetime = exp - (iat if iat is not None else now)
    if lifetime > max_lifetime:
        raise AssertionError_(f"lifetime {lifetime:.0f} s exceeds the maximum of {max_lifetime:.0f} s")
    if lifetime <= 0:
        raise AssertionError_("exp is not after iat")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > replay.MAX_LENGTH or not jti.isprintable():
        raise AssertionError_(f"jti missing or not 1 to {replay.MAX_LENGTH} printable characters")
    if len(claims["iss"]) > replay.MAX_LENGTH or not claims["iss"].isprintable():
        raise AssertionError_(f"iss longer than {replay.MAX_LENGTH} characters or not printable")
    return exp


def _time(claims: Mapping[str, Any], name: str) -> float | None:
    """A NumericDate claim (seconds since the epoch, integer or not), None when absent (a
    ``null`` is present, and not a number)."""
    if name not in claims:
        return None
    value = claims[name]
    try:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError
        return float(value)
    except (ValueError, OverflowError):
        raise AssertionError_(f"{name} is not a finite number") from None
