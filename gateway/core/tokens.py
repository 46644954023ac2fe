"""Access tokens: RFC 9068 JWTs (``typ: at+jwt``, ES256) that every peer can verify and revoke.

Why JWTs: a peer verifies one with a public key it holds in memory, so a bearer request costs no
catalog round trip (the signing keys are read once and again only for an unknown ``kid``).
Verified tokens are remembered until they expire, so a client repeating its token pays the
signature check once.

Revocation is seen by every peer within about a second without a read per request: revoking
appends to a log in the catalog (``gateway/catalog/token_state.py``) that each peer tails when
its copy is older than ``SYNC_SECONDS``. A token names its credential (``cred``:
``apikey:<id>`` or ``client:<id>``) and that credential's version (``ver``, an API key's
generation); regenerating or revoking the credential raises the lowest valid version, and
revoking one token (RFC 7009) revokes its ``jti``. Changes to the owning account (disabled,
roles or scopes changed) are caught by ``ofp``, a fingerprint of the account as configured when
the token was issued, compared with the configuration each peer runs (see ``owner_print``).

Keys: one ES256 key signs; a new one is made every ``signing_key_rotation_days`` and the old
ones keep verifying until every token they signed has expired (counted from when the next key
took over), then are deleted.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from gateway.catalog import token_state
from gateway.catalog.db import Database
from gateway.catalog.percatalog import PerCatalog
from gateway.config.schema import User
from gateway.core.runtime import Runtime

ALG = "ES256"
TOKEN_TYPE = "at+jwt"
SYNC_SECONDS = 0.5  # how stale this peer's copy of the revocation log may get
_KEYS_RELOAD_SECONDS = 1.0  # an unknown kid re-reads the keys at most this often
_SIGNER_RECHECK_SECONDS = 60.0  # a signing peer looks for a newer key (another peer's rotation)
_LEEWAY_SECONDS = 5
_WINDOW = 64  # re-read this many seqs below the last seen: PostgreSQL may commit them out of order
_CACHE_MAX = 10_000
_US = 1_000_000
NEVER = 2**62  # "no version is valid any more": a revoked credential


class InvalidTokenError(Exception):
    """Not a token of ours, badly signed, expired or revoked (``reason`` is for the log only)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(slots=True)
class _State:
    keys: dict[str, tuple[Any, Any, int]] = field(default_factory=dict)  # kid -> (private, public, created µs)
    jwks: list[dict[str, Any]] = field(default_factory=list)
    keys_loaded: float = -1e9
    signer_checked: float = -1e9
    seq: int = 0
    synced: float = -1e9
    min_version: dict[str, tuple[int, int]] = field(default_factory=dict)  # subject -> (version, until µs)
    verified: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_state: PerCatalog[_State] = PerCatalog(lambda db: _State())


def owner_print(user: User) -> str:
    """What a token's validity depends on in the owner's configuration (not the password)."""
    text = f"{user.name}|{user.actor}|{int(user.enabled)}|{sorted(user.roles)}|{sorted(user.scopes)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


async def _load_keys(db: Database, state: _State) -> None:
    # PyJWT and cryptography (~9 MiB a process) are imported by the first token issued or
    # checked, not at start: a gateway whose clients use sessions and API keys never needs them.
    from cryptography.hazmat.primitives import serialization

    keys: dict[str, tuple[Any, Any, int]] = {}
    jwks: list[dict[str, Any]] = []
    for kid, _alg, private_pem, public_jwk, created in await token_state.signing_key_rows(db):
        private = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
        keys[kid] = (private, private.public_key(), int(created))
        jwks.append(json.loads(public_jwk))
    state.keys, state.jwks, state.keys_loaded = keys, jwks, time.monotonic()


async def _signer(rt: Runtime) -> tuple[str, Any]:
    """The newest key, made (and old ones dropped) when there is none or it is due for rotation."""
    state = _state(rt.db)
    now = time.monotonic()
    if now - state.signer_checked > _SIGNER_RECHECK_SECONDS or not state.keys:
        async with state.lock:
            await _load_keys(rt.db, state)
            server = rt.config.server
            rotation_us = server.signing_key_rotation_days * 86400 * _US
            newest = max(state.keys.items(), key=lambda item: item[1][2], default=None)
            wall = time.time_ns() // 1000
            if newest is None or wall - newest[1][2] > rotation_us:
                await _new_key(rt.db)
                await _load_keys(rt.db, state)
                lifetime_us = max(server.token_max_minutes, server.oauth_token_minutes) * 60 * _US
                retired = _retired(state, wall - lifetime_us - 60 * _US)
                if retired:
                    await token_state.drop_signing_keys(rt.db, retired)
                    await _load_keys(rt.db, state)
            state.signer_checked = time.monotonic()
    kid, (private, _public, _created) = max(state.keys.items(), key=lambda item: item[1][2])
    return kid, private


def _retired(state: _State, before: int) -> list[str]:
    """Keys whose successor has signed since before ``before``: no token they signed is live.
    (A key signs until the next one is made, so its age alone says nothing.)"""
    ordered = sorted(state.keys.items(), key=lambda item: item[1][2])
    return [kid for (kid, _), (_, (_, _, successor)) in zip(ordered, ordered[1:], strict=False) if successor < before]


async def _new_key(db: Database) -> None:
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    kid = secrets.token_urlsafe(12)
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": ALG, "use": "sig"})
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    await token_state.add_signing_key(db, kid, ALG, pem, json.dumps(jwk), time.time_ns() // 1000)


async def jwks(rt: Runtime) -> dict[str, Any]:
    """The public keys (JWK Set, RFC 7517) that verify current tokens."""
    await _signer(rt)
    return {"keys": list(_state(rt.db).jwks)}


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    jti: str
    issued_at: int  # seconds since the epoch
    expires_at: int


async def issue(
    rt: Runtime,
    owner: User,
    *,
    credential: str,
    client_id: str,
    version: int,
    scopes: frozenset[str],
    seconds: int,
    issuer: str,
) -> Issued:
    """Sign a token for ``owner`` acting through ``credential`` (at ``version``)."""
    kid, private = await _signer(rt)
    now = int(time.time())
    jti = secrets.token_urlsafe(16)
    claims = {
        "iss": issuer,
        "aud": issuer,
        "sub": owner.name,
        "client_id": client_id,
        "scope": " ".join(sorted(scopes)),
        "iat": now,
        "exp": now + seconds,
        "jti": jti,
        "cred": credential,
        "ver": version,
        "ofp": owner_print(owner),
    }
    import jwt  # see _load_keys

    token = jwt.encode(claims, private, algorithm=ALG, headers={"typ": TOKEN_TYPE, "kid": kid})
    return Issued(token=token, jti=jti, issued_at=now, expires_at=now + seconds)


async def _sync(db: Database, state: _State) -> None:
    if time.monotonic() - state.synced < SYNC_SECONDS:
        return
    async with state.lock:
        if time.monotonic() - state.synced < SYNC_SECONDS:
            return
        now = time.time_ns() // 1000
        for seq, subject, version, until in await token_state.revocations_after(db, state.seq - _WINDOW, now):
            known = state.min_version.get(subject)
            if known is None or known[0] < version:
                state.min_version[subject] = (int(version), int(until))
            state.seq = max(state.seq, int(seq))
        if len(state.min_version) > _CACHE_MAX:
            state.min_version = {s: v for s, v in state.min_version.items() if v[1] > now}
        state.synced = time.monotonic()


async def verify(rt: Runtime, token: str, issuer: str | None) -> dict[str, Any]:
    """The claims of a valid, unexpired, unrevoked token; raises ``InvalidTokenError``.
    ``issuer`` (the configured public URL) is checked when given."""
    state = _state(rt.db)
    await _sync(rt.db, state)
    claims = state.verified.get(token)
    if claims is None:
        claims = await _decode(rt, state, token, issuer)
        if len(state.verified) >= _CACHE_MAX:
            state.verified.clear()
        state.verified[token] = claims
    if claims["exp"] + _LEEWAY_SECONDS <= time.time():
        state.verified.pop(token, None)
        raise InvalidTokenError("expired")
    if revoked(state, claims):
        raise InvalidTokenError("revoked")
    return claims


def revoked(state: _State, claims: dict[str, Any]) -> bool:
    jti = state.min_version.get(f"jti:{claims['jti']}")
    cred = state.min_version.get(str(claims["cred"]))
    return jti is not None or (cred is not None and int(claims["ver"]) < cred[0])


async def is_revoked(rt: Runtime, claims: dict[str, Any]) -> bool:
    state = _state(rt.db)
    await _sync(rt.db, state)
    return revoked(state, claims)


async def _decode(rt: Runtime, state: _State, token: str, issuer: str | None) -> dict[str, Any]:
    import jwt  # see _load_keys

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(f"malformed: {exc}") from None
    kid = header.get("kid")
    if header.get("typ") != TOKEN_TYPE or header.get("alg") != ALG or not isinstance(kid, str):
        raise InvalidTokenError("not an access token of this gateway")
    if kid not in state.keys and time.monotonic() - state.keys_loaded > _KEYS_RELOAD_SECONDS:
        async with state.lock:
            if kid not in state.keys:
                await _load_keys(rt.db, state)
    found = state.keys.get(kid)
    if found is None:
        raise InvalidTokenError("unknown kid")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            found[1],
            algorithms=[ALG],
            audience=issuer,
            issuer=issuer,
            leeway=_LEEWAY_SECONDS,
            options={
                "require": ["exp", "iat", "sub", "jti", "cred", "ver", "ofp", "scope"],
                "verify_aud": issuer is not None,
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(str(exc)) from None
    if not isinstance(claims["ver"], int) or not isinstance(claims["scope"], str):
        raise InvalidTokenError("bad claims")
    return claims


async def revoke_credential(rt: Runtime, credential: str, min_version: int) -> None:
    """Every token of ``credential`` below ``min_version`` stops working on every peer."""
    server = rt.config.server
    lifetime = max(server.token_max_minutes, server.oauth_token_minutes) * 60 + 2 * _LEEWAY_SECONDS
    await token_state.revoke(rt.db, credential, min_version, time.time_ns() // 1000 + lifetime * _US)
    _state(rt.db).synced = -1e9  # this peer: at once


async def revoke_token(rt: Runtime, claims: dict[str, Any]) -> None:
    until = (int(claims["exp"]) + 2 * _LEEWAY_SECONDS) * _US
    await token_state.revoke(rt.db, f"jti:{claims['jti']}", NEVER, until)
    _state(rt.db).synced = -1e9
