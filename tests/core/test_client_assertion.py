"""private_key_jwt (RFC 7523): every acceptance and refusal rule, with real ES256 and RS256 keys."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from gateway.catalog.db import Database, sqlite_url
from gateway.config.schema import GatewayConfig, ServerConfig
from gateway.core.actions import ActionIndex
from gateway.core.client_assertion import (
    MAX_ASSERTION_BYTES,
    AssertionError_,
    AssertionKey,
    check_client,
    check_key,
    verify,
)
from gateway.core.runtime import Runtime
from gateway.core.vfs import Mounts
from tests import pg
from tests.oauth_client import DROP, SEED_LIFETIME, ClientKey

pytestmark = pytest.mark.anyio

CLIENT = "tenant-1"
AUD = "https://gw.example/oauth2/token"
SEED_AUD = "https://gw.example/v1/oauth/token"
AUDIENCES = (AUD, SEED_AUD)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def es() -> ClientKey:
    return ClientKey.generate("es-1")


@pytest.fixture(scope="module")
def es2() -> ClientKey:
    return ClientKey.generate("es-2")


@pytest.fixture(scope="module")
def rs() -> ClientKey:
    return ClientKey.generate("rs-1", "RS256")


def _runtime(db: Database, **server: Any) -> Runtime:
    config = GatewayConfig(
        source=Path("."),
        actors=MappingProxyType({}),
        groups=MappingProxyType({}),
        users=MappingProxyType({}),
        storages=MappingProxyType({}),
        vfs=MappingProxyType({}),
        contracts=(),
        server=replace(ServerConfig(), **server),
    )
    return Runtime(config=config, db=db, mounts=Mounts(config, {}), actions=ActionIndex(config))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(sqlite_url(tmp_path))
    await database.migrate()
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def rt(db: Database) -> Runtime:
    return _runtime(db)


def _keys(*keys: ClientKey, client: str = CLIENT) -> dict[str, list[AssertionKey]]:
    return {client: [k.assertion_key() for k in keys], "other-client": [ClientKey.generate("o").assertion_key()]}


async def _verify(
    rt: Runtime,
    token: str,
    keys: Mapping[str, Sequence[AssertionKey]],
    audiences: Sequence[str] = AUDIENCES,
    client_id: str | None = None,
) -> str:
    return await verify(rt, token, keys=keys, audiences=audiences, client_id=client_id)


async def _refused(rt: Runtime, token: str, keys: Mapping[str, Sequence[AssertionKey]], **kw: Any) -> str:
    """The reason of the refusal, which must not quote the assertion or anything taken from it."""
    with pytest.raises(AssertionError_) as info:
        await _verify(rt, token, keys, **kw)
    reason = info.value.reason
    assert str(info.value) == reason
    for part in token.split("."):
        assert len(part) < 8 or part not in reason
    for leaked in (CLIENT, "es-1", "rs-1", "https://"):
        assert leaked not in reason
    return reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact(header: Mapping[str, Any] | str, claims: Mapping[str, Any] | str, signature: bytes = b"sig") -> str:
    def seg(v: Mapping[str, Any] | str) -> str:
        return _b64((v if isinstance(v, str) else json.dumps(v)).encode())

    return f"{seg(header)}.{seg(claims)}.{_b64(signature)}"


# --- accepted ---------------------------------------------------------------------------------


async def test_client_assertion_seed_000_es256_assertion_authenticates_the_client(rt: Runtime, es: ClientKey) -> None:
    token = es.assertion(CLIENT, SEED_AUD)
    assert await _verify(rt, token, _keys(es)) == CLIENT
    assert await _verify(rt, es.assertion(CLIENT, AUD), _keys(es), client_id=CLIENT) == CLIENT


async def test_client_assertion_rs256_assertion_authenticates_the_client(rt: Runtime, rs: ClientKey) -> None:
    assert await _verify(rt, rs.assertion(CLIENT, AUD), _keys(rs)) == CLIENT


async def test_client_assertion_kid_selects_among_the_clients_keys(
    rt: Runtime, es: ClientKey, es2: ClientKey, rs: ClientKey
) -> None:
    keys = _keys(es, es2, rs)
    for key in (es, es2, rs):
        assert await _verify(rt, key.assertion(CLIENT, AUD), keys) == CLIENT


async def test_client_assertion_without_kid_is_accepted_when_the_client_has_one_key(rt: Runtime, es: ClientKey) -> None:
    assert await _verify(rt, es.assertion(CLIENT, AUD, headers={"kid": DROP}), _keys(es)) == CLIENT


async def test_client_assertion_aud_may_be_a_list_naming_one_endpoint(rt: Runtime, es: ClientKey) -> None:
    token = es.assertion(CLIENT, AUD, claims={"aud": ["https://elsewhere.example/token", AUD]})
    assert await _verify(rt, token, _keys(es)) == CLIENT


async def test_client_assertion_without_iat_nbf_and_with_typ_variants_is_accepted(rt: Runtime, es: ClientKey) -> None:
    now = int(time.time())
    bare = es.assertion(CLIENT, AUD, claims={"iat": DROP, "nbf": DROP, "exp": now + 60})
    assert await _verify(rt, bare, _keys(es)) == CLIENT
    for typ in (None, "JWT", "jwt", "client-authentication+jwt"):
        assert await _verify(rt, es.assertion(CLIENT, AUD, headers={"typ": typ}), _keys(es)) == CLIENT
    fractional = es.assertion(CLIENT, AUD, claims={"exp": time.time() + 100.5, "iat": time.time()})
    assert await _verify(rt, fractional, _keys(es)) == CLIENT


async def test_client_assertion_clock_skew_within_the_leeway_is_accepted(rt: Runtime, es: ClientKey) -> None:
    now = int(time.time())
    late = es.assertion(CLIENT, AUD, claims={"iat": now - 100, "nbf": now - 100, "exp": now - 20})
    assert await _verify(rt, late, _keys(es)) == CLIENT
    early = es.assertion(CLIENT, AUD, claims={"iat": now + 20, "nbf": now + 20, "exp": now + 200})
    assert await _verify(rt, early, _keys(es)) == CLIENT


# --- refused: claims --------------------------------------------------------------------------


async def test_client_assertion_wrong_aud_is_refused(rt: Runtime, es: ClientKey) -> None:
    for aud in ("https://gw.example/oauth2/token/", "https://other.example/oauth2/token", ["x", "y"], [], 5, DROP):
        reason = await _refused(rt, es.assertion(CLIENT, AUD, claims={"aud": aud}), _keys(es))
        assert "aud" in reason
    # the endpoint decides which URLs are its own
    assert "aud" in await _refused(rt, es.assertion(CLIENT, SEED_AUD), _keys(es), audiences=[AUD])


async def test_client_assertion_unknown_issuer_is_refused(rt: Runtime, es: ClientKey) -> None:
    assert "unknown client" in await _refused(rt, es.assertion("tenant-2", AUD), _keys(es))
    assert "iss" in await _refused(rt, es.assertion(CLIENT, AUD, claims={"iss": DROP}), _keys(es))
    assert "iss" in await _refused(rt, es.assertion(CLIENT, AUD, claims={"iss": 7}), _keys(es))


async def test_client_assertion_iss_signed_with_another_clients_key_is_refused(rt: Runtime, es: ClientKey) -> None:
    """A client cannot speak for another: iss picks the key set, and only that client's keys count."""
    keys = {CLIENT: [es.assertion_key()], "tenant-2": [ClientKey.generate("es-1").assertion_key()]}
    assert "signature" in await _refused(rt, es.assertion("tenant-2", AUD), keys)


async def test_client_assertion_iss_other_than_the_requests_client_id_is_refused(rt: Runtime, es: ClientKey) -> None:
    reason = await _refused(rt, es.assertion(CLIENT, AUD), _keys(es), client_id="tenant-2")
    assert "client_id" in reason


async def test_client_assertion_sub_other_than_iss_is_refused(rt: Runtime, es: ClientKey) -> None:
    for sub in ("tenant-2", DROP, None):
        assert "sub" in await _refused(rt, es.assertion(CLIENT, AUD, claims={"sub": sub}), _keys(es))


async def test_client_assertion_expired_is_refused(rt: Runtime, es: ClientKey) -> None:
    now = int(time.time())
    token = es.assertion(CLIENT, AUD, claims={"iat": now - 200, "nbf": now - 200, "exp": now - 31})
    assert "expired" in await _refused(rt, token, _keys(es))


async def test_client_assertion_without_exp_is_refused(rt: Runtime, es: ClientKey) -> None:
    assert "exp missing" in await _refused(rt, es.assertion(CLIENT, AUD, claims={"exp": DROP}), _keys(es))


@pytest.mark.parametrize("bad", ["1900000000", True, None, 10**400, [1]])
async def test_client_assertion_non_numeric_times_are_refused(rt: Runtime, es: ClientKey, bad: object) -> None:
    for claim in ("exp", "nbf", "iat"):
        reason = await _refused(rt, es.assertion(CLIENT, AUD, claims={claim: bad}), _keys(es))
        assert claim in reason


async def test_client_assertion_not_yet_valid_is_refused(rt: Runtime, es: ClientKey) -> None:
    now = int(time.time())
    token = es.assertion(CLIENT, AUD, claims={"iat": now, "nbf": now + 31, "exp": now + 200})
    assert "not yet valid" in await _refused(rt, token, _keys(es))


async def test_client_assertion_issued_in_the_future_is_refused(rt: Runtime, es: ClientKey) -> None:
    now = int(time.time())
    token = es.assertion(CLIENT, AUD, claims={"iat": now + 31, "nbf": DROP, "exp": now + 200})
    assert "iat" in await _refused(rt, token, _keys(es))


async def test_client_assertion_too_long_lifetime_is_refused(rt: Runtime, es: ClientKey) -> None:
    now = int(time.time())
    assert await _verify(rt, es.assertion(CLIENT, AUD, claims={"exp": now + 600}), _keys(es)) == CLIENT
    reason = await _refused(rt, es.assertion(CLIENT, AUD, claims={"exp": now + 601}), _keys(es))
    assert reason == "lifetime 601 s exceeds the maximum of 600 s"
    # without iat the lifetime counts from now
    no_iat = es.assertion(CLIENT, AUD, claims={"iat": DROP, "exp": now + 900})
    assert "lifetime" in await _refused(rt, no_iat, _keys(es))
    # an old iat is not hidden by a near exp... the whole span counts
    old = es.assertion(CLIENT, AUD, claims={"iat": now - 3000, "exp": now + 60})
    assert "lifetime" in await _refused(rt, old, _keys(es))
    backwards = es.assertion(CLIENT, AUD, claims={"iat": now, "exp": now - 5})
    assert "exp is not after iat" in await _refused(rt, backwards, _keys(es))


async def test_client_assertion_lifetime_and_leeway_follow_the_configuration(db: Database, es: ClientKey) -> None:
    now = int(time.time())
    strict = _runtime(db, client_assertion_max_lifetime_seconds=120, client_assertion_leeway_seconds=0)
    seed = es.assertion(CLIENT, AUD)  # exp = now + 240
    assert "exceeds the maximum of 120 s" in await _refused(strict, seed, _keys(es))
    late = es.assertion(CLIENT, AUD, claims={"iat": now - 100, "exp": now - 1})
    assert "expired" in await _refused(strict, late, _keys(es))
    relaxed = _runtime(db, client_assertion_max_lifetime_seconds=3600)
    assert await _verify(relaxed, es.assertion(CLIENT, AUD, claims={"exp": now + 3000}), _keys(es)) == CLIENT


async def test_client_assertion_jti_is_required_and_bounded(rt: Runtime, es: ClientKey) -> None:
    for jti in (DROP, "", 42, "j" * 256, "a\x00b"):
        assert "jti" in await _refused(rt, es.assertion(CLIENT, AUD, claims={"jti": jti}), _keys(es))
    assert await _verify(rt, es.assertion(CLIENT, AUD, claims={"jti": "j" * 255}), _keys(es)) == CLIENT


async def test_client_assertion_replayed_jti_is_refused(rt: Runtime, es: ClientKey) -> None:
    token = es.assertion(CLIENT, AUD)
    assert await _verify(rt, token, _keys(es)) == CLIENT
    assert await _refused(rt, token, _keys(es)) == "jti replayed"
    # a fresh assertion with the same jti is a replay too
    jti = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["jti"]
    assert await _refused(rt, es.assertion(CLIENT, AUD, claims={"jti": jti}), _keys(es)) == "jti replayed"


async def test_client_assertion_refused_assertion_does_not_spend_its_jti(rt: Runtime, es: ClientKey) -> None:
    token = es.assertion(CLIENT, AUD)
    await _refused(rt, token, _keys(es), audiences=["https://other.example/token"])
    assert await _verify(rt, token, _keys(es)) == CLIENT


async def test_client_assertion_duplicate_claim_names_are_refused(rt: Runtime, es: ClientKey) -> None:
    """Parsers disagree on which duplicate wins; the signature covers both, so refuse the ambiguity."""
    claims = json.dumps(es.claims(CLIENT, AUD))[:-1] + ', "aud": "https://elsewhere.example/token"}'
    token = es.sign({"alg": "ES256", "kid": "es-1"}, claims.encode())
    assert "duplicate" in await _refused(rt, token, _keys(es))
    header = '{"alg": "ES256", "kid": "es-1", "kid": "es-2"}'
    signing_input = f"{_b64(header.encode())}.{es.assertion(CLIENT, AUD).split('.')[1]}"
    assert "duplicate" in await _refused(rt, f"{signing_input}.{_b64(b'x' * 64)}", _keys(es))


# --- refused: keys and algorithms -------------------------------------------------------------


async def test_client_assertion_unknown_kid_is_refused(rt: Runtime, es: ClientKey, es2: ClientKey) -> None:
    assert "kid" in await _refused(rt, es2.assertion(CLIENT, AUD), _keys(es))
    assert "kid" in await _refused(rt, es.assertion(CLIENT, AUD, headers={"kid": 1}), _keys(es))


async def test_client_assertion_without_kid_is_refused_when_the_client_has_several_keys(
    rt: Runtime, es: ClientKey, es2: ClientKey
) -> None:
    token = es.assertion(CLIENT, AUD, headers={"kid": DROP})
    assert await _refused(rt, token, _keys(es, es2)) == "kid missing and the client has several keys"


async def test_client_assertion_kid_naming_another_key_of_the_client_is_refused(
    rt: Runtime, es: ClientKey, es2: ClientKey
) -> None:
    token = es.assertion(CLIENT, AUD, headers={"kid": es2.kid})
    assert "signature" in await _refused(rt, token, _keys(es, es2))


async def test_client_assertion_alg_other_than_the_keys_is_refused(rt: Runtime, es: ClientKey, rs: ClientKey) -> None:
    """An RS256-signed assertion naming an ES256 key's kid (and the reverse) is refused before any
    signature check: the algorithm comes from the registered key, never from the token."""
    as_es = rs.assertion(CLIENT, AUD, headers={"kid": es.kid})
    assert "alg differs" in await _refused(rt, as_es, _keys(es, rs))
    as_rs = es.assertion(CLIENT, AUD, headers={"kid": rs.kid})
    assert "alg differs" in await _refused(rt, as_rs, _keys(es, rs))
    # the header's alg rewritten to match the key: the signature no longer verifies
    relabelled = es.assertion(CLIENT, AUD, headers={"alg": "RS256", "kid": rs.kid})
    assert "signature" in await _refused(rt, relabelled, _keys(es, rs))


@pytest.mark.parametrize("alg", ["none", "None", "HS256", "HS512", "ES384", "ES512", "RS512", "PS256", "EdDSA", None])
async def test_client_assertion_algorithms_other_than_es256_and_rs256_are_refused(
    rt: Runtime, es: ClientKey, alg: str | None
) -> None:
    header = {"alg": alg, "kid": "es-1", "typ": "JWT"}
    token = _compact(header, es.claims(CLIENT, AUD), b"\x00" * 64)
    assert "alg" in await _refused(rt, token, _keys(es))


async def test_client_assertion_alg_none_with_an_empty_signature_is_refused(rt: Runtime, es: ClientKey) -> None:
    token = _compact({"alg": "none"}, es.claims(CLIENT, AUD), b"")
    assert token.endswith(".")
    assert await _refused(rt, token, _keys(es)) == "assertion is not a compact JWS"


@pytest.mark.parametrize("which", ["es", "rs"])
async def test_client_assertion_hs256_with_the_public_key_as_secret_is_refused(
    rt: Runtime, es: ClientKey, rs: ClientKey, which: str
) -> None:
    """The classic algorithm confusion: an HMAC keyed with the (public) PEM of the registered key."""
    key = es if which == "es" else rs
    for alg in ("HS256", key.alg):  # the header claims HS256, or lies about it
        signing_input = _compact({"alg": alg, "kid": key.kid}, key.claims(CLIENT, AUD)).rsplit(".", 1)[0]
        mac = hmac.new(key.public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
        reason = await _refused(rt, f"{signing_input}.{_b64(mac)}", _keys(key))
        assert reason.startswith("alg missing") if alg == "HS256" else reason.startswith("signature")


async def test_client_assertion_tampered_signature_or_claims_are_refused(rt: Runtime, es: ClientKey) -> None:
    token = es.assertion(CLIENT, AUD)
    header, claims, signature = token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    assert "signature" in await _refused(rt, f"{header}.{claims}.{flipped}", _keys(es))
    assert "signature" in await _refused(rt, f"{header}.{claims}.{signature[:-4]}", _keys(es))
    other = es.claims(CLIENT, AUD)
    assert "signature" in await _refused(rt, f"{header}.{_b64(json.dumps(other).encode())}.{signature}", _keys(es))
    # the untampered one still passes (the refusals above did not spend its jti)
    assert await _verify(rt, token, _keys(es)) == CLIENT


async def test_client_assertion_signed_by_an_unregistered_key_is_refused(rt: Runtime, es: ClientKey) -> None:
    impostor = ClientKey.generate(es.kid)
    assert "signature" in await _refused(rt, impostor.assertion(CLIENT, AUD), _keys(es))


async def test_client_assertion_crit_b64_and_foreign_typ_headers_are_refused(rt: Runtime, es: ClientKey) -> None:
    for headers in ({"crit": ["exp"], "exp": 1}, {"b64": False, "crit": ["b64"]}, {"b64": True}):
        assert "crit or b64" in await _refused(rt, es.assertion(CLIENT, AUD, headers=headers), _keys(es))
    for typ in ("at+jwt", "dpop+jwt", 5):
        assert "typ" in await _refused(rt, es.assertion(CLIENT, AUD, headers={"typ": typ}), _keys(es))


# --- refused: shape and size ------------------------------------------------------------------


async def test_client_assertion_oversized_is_refused_before_parsing(rt: Runtime, es: ClientKey) -> None:
    padding = "x" * MAX_ASSERTION_BYTES
    big = es.assertion(CLIENT, AUD, claims={"pad": padding})
    assert await _refused(rt, big, _keys(es)) == f"assertion larger than {MAX_ASSERTION_BYTES} bytes"
    assert await _refused(rt, "!" * (MAX_ASSERTION_BYTES + 1), _keys(es)) == "assertion larger than 8192 bytes"
    # just under the limit is parsed and accepted
    fits = es.assertion(CLIENT, AUD, claims={"pad": ""})
    room = MAX_ASSERTION_BYTES - len(fits)
    fits = es.assertion(CLIENT, AUD, claims={"pad": "x" * (room * 3 // 4 - 4)})
    assert len(fits) <= MAX_ASSERTION_BYTES
    assert await _verify(rt, fits, _keys(es)) == CLIENT


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "a..c",
        "é.b.c",
        "a b.c.d",
        "a+b.c/d.e",
        "a.b.c\n",
        _compact("not json", "{}"),
        _compact("[1, 2]", "{}"),
        _compact({"alg": "ES256"}, "[1]"),
        _compact({"alg": "ES256"}, '"claims"'),
        _compact({"alg": "ES256"}, '{"iss": NaN}'),
        _compact({"alg": "ES256"}, "[" * 3000 + "]" * 3000),  # deeper than the JSON parser recurses
        _compact("[" * 3000 + "]" * 3000, "{}"),
    ],
)
async def test_client_assertion_malformed_is_refused(rt: Runtime, es: ClientKey, token: str) -> None:
    await _refused(rt, token, _keys(es))


async def test_client_assertion_mangled_assertions_are_refusals_never_crashes(
    rt: Runtime, es: ClientKey, rs: ClientKey
) -> None:
    """Random damage to the text, to the JSON inside, and re-signed odd header/claim values: every
    outcome is an acceptance or an AssertionError_, nothing else (no 500 at the endpoint)."""
    rnd = random.Random(11)
    keys = _keys(es, rs)
    junk = 'Ax0-_.=+/ {}"[]:,\\\x00é'
    odd: list[Any] = [None, True, 1e308, -1, "x", [], {}, [1, "a"], 2**70, CLIENT, AUD, "es-1", "RS256", "none"]
    outcomes = {"accepted": 0, "refused": 0}
    for _ in range(400):
        key = rnd.choice((es, rs))
        token = key.assertion(CLIENT, AUD)
        parts = token.split(".")
        mode = rnd.randrange(3)
        if mode == 0:
            token = "".join(c if rnd.random() > 0.02 else rnd.choice(junk) for c in token)[: rnd.randrange(len(token))]
        elif mode == 1:
            i = rnd.randrange(2)
            text = base64.urlsafe_b64decode(parts[i] + "==").decode()
            parts[i] = _b64("".join(c if rnd.random() > 0.05 else rnd.choice(junk) for c in text).encode())
            token = ".".join(parts)
        else:
            header, claims = (json.loads(base64.urlsafe_b64decode(p + "==")) for p in parts[:2])
            target = rnd.choice((header, claims))
            target[rnd.choice([*target, "crit", "jku"])] = rnd.choice(odd)
            token = key.sign(header, json.dumps(claims).encode())
        try:
            await _verify(rt, token, keys)
            outcomes["accepted"] += 1
        except AssertionError_:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 300


async def test_client_assertion_non_string_assertion_is_refused(rt: Runtime, es: ClientKey) -> None:
    for value in (None, 5, b"a.b.c", ["a.b.c"]):
        with pytest.raises(AssertionError_, match="not a string"):
            await verify(rt, value, keys=_keys(es), audiences=AUDIENCES)  # type: ignore[arg-type]


async def test_client_assertion_unusable_registered_key_is_a_refusal_not_a_crash(rt: Runtime, es: ClientKey) -> None:
    broken = {CLIENT: [AssertionKey(kid="es-1", alg="ES256", public_key_pem="-----BEGIN PUBLIC KEY-----\nAAAA\n")]}
    assert "unusable" in await _refused(rt, es.assertion(CLIENT, AUD), broken)


# --- check_key --------------------------------------------------------------------------------


def test_client_assertion_check_key_accepts_registrable_keys(es: ClientKey, rs: ClientKey) -> None:
    check_key(es.assertion_key())
    check_key(rs.assertion_key())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda es, rs: AssertionKey("k", "ES256", rs.public_pem), "P-256"),
        (lambda es, rs: AssertionKey("k", "RS256", es.public_pem), "RSA key"),
        (lambda es, rs: AssertionKey("k", "ES256", "not a pem"), "PEM"),
        (lambda es, rs: AssertionKey("k", "ES256", es.private_pem), "PEM"),
        (lambda es, rs: AssertionKey("", "ES256", es.public_pem), "kid"),
        (lambda es, rs: AssertionKey("k", "HS256", es.public_pem), "algorithm"),  # type: ignore[arg-type]
    ],
)
def test_client_assertion_check_key_refuses_unusable_keys(
    es: ClientKey, rs: ClientKey, make: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check_key(make(es, rs))


def test_client_assertion_check_key_refuses_weak_and_foreign_curve_keys() -> None:
    with pytest.raises(ValueError, match="1024 bits"):
        check_key(ClientKey.generate("k", "RS256", rsa_bits=1024).assertion_key())
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.oauth_client import public_pem

    p384 = public_pem(ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(ValueError, match="P-256"):
        check_key(AssertionKey("k", "ES256", p384))


def test_client_assertion_check_client_refuses_what_verify_could_not_use(es: ClientKey, es2: ClientKey) -> None:
    check_client(CLIENT, [es.assertion_key(), es2.assertion_key()])
    check_client("c" * 255, [es.assertion_key()])
    for client_id, message in (("", "client id"), ("c" * 256, "client id"), ("a\tb", "client id")):
        with pytest.raises(ValueError, match=message):
            check_client(client_id, [es.assertion_key()])
    with pytest.raises(ValueError, match="at least one"):
        check_client(CLIENT, [])
    twin = replace(es2.assertion_key(), kid=es.kid)
    with pytest.raises(ValueError, match="'es-1' is registered twice"):
        check_client(CLIENT, [es.assertion_key(), twin])
    with pytest.raises(ValueError, match="key 'bad': not a PEM"):
        check_client(CLIENT, [es.assertion_key(), AssertionKey("bad", "ES256", "junk")])


# --- replay across peers ----------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "shared")
        return
    with pg.fresh_database() as url:
        yield url


@pytest.fixture
async def peers(catalog_url: str) -> AsyncIterator[tuple[Runtime, Runtime]]:
    """Two gateways on one catalog: two Database instances, two engines, as two processes have."""
    if catalog_url.startswith("sqlite"):
        Path(catalog_url.removeprefix("sqlite:///")).parent.mkdir()
    first, second = Database(catalog_url), Database(catalog_url)
    try:
        await first.migrate()
        await second.migrate()
        yield _runtime(first), _runtime(second)
    finally:
        await first.dispose()
        await second.dispose()


async def test_client_assertion_replayed_on_a_second_peer_is_refused(
    peers: tuple[Runtime, Runtime], es: ClientKey
) -> None:
    one, two = peers
    token = es.assertion(CLIENT, SEED_AUD)
    assert await _verify(one, token, _keys(es)) == CLIENT
    assert await _refused(two, token, _keys(es)) == "jti replayed"
    assert await _refused(one, token, _keys(es)) == "jti replayed"
    other = es.assertion(CLIENT, SEED_AUD)
    assert await _verify(two, other, _keys(es)) == CLIENT
    assert await _refused(one, other, _keys(es)) == "jti replayed"


async def test_client_assertion_concurrent_replays_on_two_peers_succeed_exactly_once(
    peers: tuple[Runtime, Runtime], es: ClientKey
) -> None:
    token = es.assertion(CLIENT, SEED_AUD)

    async def attempt(rt: Runtime) -> str:
        try:
            return await _verify(rt, token, _keys(es))
        except AssertionError_ as exc:
            return exc.reason

    outcomes = await asyncio.gather(*(attempt(peers[i % 2]) for i in range(12)))
    assert sorted(outcomes) == sorted([CLIENT] + ["jti replayed"] * 11)


async def test_client_assertion_seed_lifetime_is_what_the_helper_builds(es: ClientKey) -> None:
    claims = es.claims(CLIENT, SEED_AUD, now=1_000)
    assert claims["exp"] - claims["iat"] == SEED_LIFETIME == 240
    assert claims["iss"] == claims["sub"] == CLIENT and claims["aud"] == SEED_AUD and claims["nbf"] == 1_000


async def test_client_assertion_two_processes_racing_accept_each_assertion_exactly_once(
    peers: tuple[Runtime, Runtime], catalog_url: str, es: ClientKey
) -> None:
    """Another gateway process (its own interpreter and engine) and this one verify the same 40
    assertions at the same moment: each is accepted by exactly one of them."""
    one, _ = peers
    tokens = [es.assertion(CLIENT, SEED_AUD) for _ in range(40)]
    registered = {CLIENT: [{"kid": es.kid, "alg": es.alg, "public_key_pem": es.public_pem}]}
    job = {"url": catalog_url, "keys": registered, "audience": SEED_AUD, "tokens": tokens}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.core.assertion_peer",
        cwd=REPO,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write(json.dumps(job).encode() + b"\n")
        await child.stdin.drain()
        assert await asyncio.wait_for(child.stdout.readline(), 60) == b"ready\n"
        child.stdin.write(b"go\n")
        await child.stdin.drain()

        async def attempt(index: int, token: str) -> int | None:
            try:
                await _verify(one, token, _keys(es))
            except AssertionError_:
                return None
            return index

        # one at a time (one commit each), so that the other process's batches slip in between
        mine = {i for i, t in enumerate(tokens) if await attempt(i, t) is not None}
        theirs = set(json.loads(await asyncio.wait_for(child.stdout.readline(), 60)))
    finally:
        if child.returncode is None:
            child.stdin.close()
        assert await asyncio.wait_for(child.wait(), 60) == 0
    assert mine.isdisjoint(theirs)
    assert mine | theirs == set(range(len(tokens)))
