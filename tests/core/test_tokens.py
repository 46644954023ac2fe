"""Access tokens in process: signing-key rotation with overlap, revocation seen by another
peer (a second catalog connection with its own caches), and forged tokens refused."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest
from sqlalchemy import update

from gateway.app import start_runtime
from gateway.catalog.db import Database
from gateway.catalog.models import signing_keys
from gateway.core import tokens
from gateway.core.runtime import Runtime
from gateway.settings import Settings
from tests.e2e.harness import default_config, write_config

pytestmark = pytest.mark.anyio
DAY_US = 86_400 * 1_000_000


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = Settings(config_dir=write_config(tmp_path / "config", default_config()), data_dir=tmp_path / "data")
    runtime = await start_runtime(settings)
    try:
        yield runtime
    finally:
        await runtime.db.dispose()


async def _issue(rt: Runtime, credential: str = "apikey:k1", version: int = 1) -> tokens.Issued:
    return await tokens.issue(
        rt, rt.config.users["alice"], credential=credential, client_id="k1", version=version,
        scopes=frozenset({"files:read"}), seconds=600, issuer="https://mft.example",
    )  # fmt: skip


async def _age_keys(rt: Runtime, days: float) -> None:
    async with rt.db.write() as conn:
        await conn.execute(update(signing_keys).values(created_at=signing_keys.c.created_at - int(days * DAY_US)))
    tokens._state(rt.db).signer_checked = -1e9  # as if the recheck interval had passed


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def test_rotation_signs_with_a_new_key_and_the_old_one_still_verifies(rt: Runtime) -> None:
    first = await _issue(rt)
    await _age_keys(rt, rt.config.server.signing_key_rotation_days + 1)
    second = await _issue(rt)
    assert _kid(first.token) != _kid(second.token)
    assert {k["kid"] for k in (await tokens.jwks(rt))["keys"]} == {_kid(first.token), _kid(second.token)}
    for issued in (first, second):
        assert (await tokens.verify(rt, issued.token, "https://mft.example"))["jti"] == issued.jti
    await _age_keys(rt, rt.config.server.signing_key_rotation_days + 2)  # the first is now past any token's life
    third = await _issue(rt)
    kids = {k["kid"] for k in (await tokens.jwks(rt))["keys"]}
    assert _kid(third.token) in kids and _kid(first.token) not in kids
    other_peer = Runtime(config=rt.config, db=Database(rt.db.url), mounts=rt.mounts, actions=rt.actions)
    try:
        with pytest.raises(tokens.InvalidTokenError, match="unknown kid"):
            await tokens.verify(other_peer, first.token, "https://mft.example")
    finally:
        await other_peer.db.dispose()


async def test_revocation_through_one_peer_reaches_another_within_the_sync_interval(rt: Runtime) -> None:
    issued = await _issue(rt, version=3)
    other_peer = Runtime(config=rt.config, db=Database(rt.db.url), mounts=rt.mounts, actions=rt.actions)
    try:
        await tokens.verify(other_peer, issued.token, None)  # verified and cached there
        await tokens.revoke_credential(rt, "apikey:k1", 3)  # version 3 is still valid
        await asyncio.sleep(tokens.SYNC_SECONDS + 0.1)
        await tokens.verify(other_peer, issued.token, None)
        await tokens.revoke_credential(rt, "apikey:k1", 4)  # a regenerate: version 3 is not
        with pytest.raises(tokens.InvalidTokenError, match="revoked"):
            await tokens.verify(rt, issued.token, None)  # this peer: at once
        await asyncio.sleep(tokens.SYNC_SECONDS + 0.1)
        with pytest.raises(tokens.InvalidTokenError, match="revoked"):
            await tokens.verify(other_peer, issued.token, None)
    finally:
        await other_peer.db.dispose()


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_forged_tokens_are_refused(rt: Runtime) -> None:
    good = (await _issue(rt)).token
    header, payload, signature = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    raised = _b64({**claims, "scope": "keys:manage files:write"})
    unsigned = _b64({"alg": "none", "typ": "at+jwt", "kid": _kid(good)})
    id_token = jwt.encode(claims, "s" * 32, algorithm="HS256", headers={"kid": _kid(good), "typ": "at+jwt"})
    for forged in (f"{header}.{raised}.{signature}", f"{unsigned}.{payload}.", id_token, "a.b.c", "x"):
        with pytest.raises(tokens.InvalidTokenError):
            await tokens.verify(rt, forged, None)
    with pytest.raises(tokens.InvalidTokenError):  # issued for another audience
        await tokens.verify(rt, good, "https://elsewhere.example")
