"""Machine access end to end: API keys, POST /token, bearer tokens and X-API-Key on /2.0 and
/admin, the OAuth 2.0 server, revocation across peers. Real server, curl and httpx."""

from __future__ import annotations

import base64
import contextlib
import email.utils
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.catalog.passwords import hash_password
from tests import pg
from tests.e2e.harness import SERVE, Curl, Gateway, assert_envelope, default_config, password_hash, running

pytestmark = pytest.mark.e2e

TOKEN_KEYS = {"statusCode", "access_token", "token_type", "expires_in", ".issued", ".expires", "userName"}


def machine_config() -> dict[str, dict[str, Any]]:
    """The default test world plus: service accounts of AppB (svc-app: files; svc-read: read
    only), an admin ``root`` and an operator service account, an actor whose agreement has
    ended, and two OAuth clients (secrets ``batch-secret`` and ``reader-secret``)."""
    config = default_config()
    actors = config["actors.yaml"]["actors"]
    actors["AppB"]["service_accounts"] = {
        "svc-app": {"roles": ["partner"]},
        "svc-read": {"roles": ["partner"], "scopes": ["files:read"]},
    }
    actors["Ops"] = {
        "kind": "application",
        "users": {"root": {"password_hash": password_hash("root"), "admin": True}},
        "service_accounts": {"opbot": {"roles": ["operator"]}},
    }
    actors["Ended"] = {
        "kind": "partner",
        "valid_until": "2020-01-31",
        "service_accounts": {"svc-old": {"roles": ["partner"]}},
    }
    config["oauth-clients.yaml"] = {
        "clients": {
            "batch": {
                "principal": "svc-app",
                "scopes": ["files:read", "files:write"],
                "secret_hash": _hash("batch-secret"),
            },
            "reader": {"principal": "svc-read", "scopes": ["files:read"], "secret_hash": _hash("reader-secret")},
        }
    }
    config["oauth-clients.yaml"]["clients"]["signer"] = {
        "principal": "svc-app",
        "scopes": ["files:read"],
        "keys": [{"kid": "k1", "alg": "ES256", "public_key": _SIGNER_PUBLIC}],
    }
    config["gateway.yaml"]["server"]["token_max_minutes"] = 120
    return config


_SIGNER_PRIVATE = ec.generate_private_key(ec.SECP256R1())
_SIGNER_PUBLIC = (
    _SIGNER_PRIVATE.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode("ascii")
)


_hashes: dict[str, str] = {}


def _hash(secret: str) -> str:
    if secret not in _hashes:
        _hashes[secret] = hash_password(secret)
    return _hashes[secret]


@pytest.fixture(scope="module")
def gateway(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = Gateway(root=tmp_path_factory.mktemp("gw"), database_url=catalog_url, config=machine_config())
    with running(gw):
        yield gw


@pytest.fixture(scope="module")
def admin(gateway: Gateway) -> Iterator[httpx.Client]:
    with contextlib.closing(gateway.client("root")) as client:
        yield client


def new_key(admin: httpx.Client, owner: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    r = admin.post("/admin/api-keys", json={"owner": owner, "name": f"test key of {owner}", **extra})
    assert r.status_code == 201, r.text
    return r.json()["key"], r.json()["apiKey"]


def token_for(gateway: Gateway, key: str, **form: str) -> str:
    r = httpx.post(f"{gateway.url}/token", data={"grant_type": "apikey", "key": key, **form})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


def test_seed002_curl_flow_key_to_token_then_bearer_on_2_0_and_admin(
    gateway: Gateway, admin: httpx.Client, curl: Curl, tmp_path: Path
) -> None:
    key, record = new_key(admin, "svc-app")
    assert key.startswith(f"mft_ak_{record['id']}_") and len(key.split("_", 3)[3]) == 64
    got = curl("-X", "POST", "-d", f"grant_type=apikey&key={key}", path="/token")
    assert got.status == 200 and got.headers["cache-control"] == "no-store"
    body = got.json()
    assert set(body) == TOKEN_KEYS
    assert body["statusCode"] == 200 and body["token_type"] == "bearer" and body["userName"] == "svc-app"
    assert body["expires_in"] == 60
    issued, expires = (email.utils.parsedate_to_datetime(body[k]) for k in (".issued", ".expires"))
    assert (expires - issued).total_seconds() == 3600
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"
    upload = tmp_path / "machine.txt"
    upload.write_text("from the ERP")
    token = body["access_token"]
    put = curl("-H", f"Authorization: bearer {token}", "-X", "PUT", "-F", f"file=@{upload}", path="/2.0/files/in/m.txt")
    assert put.status == 201, put.body
    listing = curl("-H", f"Authorization: bearer {token}", path="/2.0/directories/in")
    assert listing.status == 200 and "m.txt" in {e["name"] for e in listing.json()["elements"]}
    assert curl("-H", f"Authorization: BEARER {token}", path="/2.0/files/in/m.txt").body == b"from the ERP"
    root_key, _ = new_key(admin, "root")
    root_token = token_for(gateway, root_key)
    runs = curl("-H", f"Authorization: bearer {root_token}", path="/admin/runs")
    assert runs.status == 200 and runs.json()["result"] == "ok"


def test_grant_is_accepted_as_apiKey_and_duration_is_capped(gateway: Gateway, admin: httpx.Client) -> None:
    key, _ = new_key(admin, "svc-app")
    for duration, minutes in (("5", 5), ("100000", 120), ("", 60)):
        r = httpx.post(f"{gateway.url}/token", data={"grant_type": "apiKey", "key": key, "duration": duration})
        assert r.status_code == 200 and r.json()["expires_in"] == minutes, r.text


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"key": "x"}, 400, "invalid_request"),
        ({"grant_type": "password", "key": "x"}, 400, "unsupported_grant_type"),
        ({"grant_type": "apikey"}, 400, "invalid_request"),
        ({"grant_type": "apikey", "key": "KEY", "duration": "0"}, 400, "invalid_request"),
        ({"grant_type": "apikey", "key": "KEY", "duration": "ten"}, 400, "invalid_request"),
        ({"grant_type": "apikey", "key": "mft_ak_0123456789abcdef_" + "0" * 64}, 401, "invalid_client"),
        ({"grant_type": "apikey", "key": "not-a-key"}, 401, "invalid_client"),
    ],
)
def test_token_bad_input_gets_rfc6749_error_and_issues_nothing(
    gateway: Gateway, admin: httpx.Client, form: dict[str, str], status: int, error: str
) -> None:
    key, record = new_key(admin, "svc-app")
    form = {k: key if v == "KEY" else v for k, v in form.items()}
    r = httpx.post(f"{gateway.url}/token", data=form)
    assert r.status_code == status and r.json()["error"] == error and set(r.json()) == {"error", "error_description"}
    assert r.headers["cache-control"] == "no-store"
    again = admin.get(f"/admin/api-keys/{record['id']}").json()["apiKey"]
    assert again["lastUsedAt"] == ""  # the key was not used


def test_token_rejects_malformed_json_and_unknown_media(gateway: Gateway) -> None:
    r = httpx.post(f"{gateway.url}/token", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = httpx.post(f"{gateway.url}/token", content=b"<x/>", headers={"Content-Type": "application/xml"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_x_api_key_works_on_2_0_and_records_first_use(gateway: Gateway, admin: httpx.Client) -> None:
    key, record = new_key(admin, "svc-app")
    r = httpx.get(f"{gateway.url}/2.0/directories/in", headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    assert admin.get(f"/admin/api-keys/{record['id']}").json()["apiKey"]["lastUsedAt"] != ""


def test_revoked_key_fails_at_once_with_its_tokens(gateway: Gateway, admin: httpx.Client) -> None:
    key, record = new_key(admin, "svc-app")
    token = token_for(gateway, key)
    assert httpx.get(f"{gateway.url}/2.0/directories/in", headers=bearer(token)).status_code == 200
    r = admin.post(f"/admin/api-keys/{record['id']}/revoke")
    assert r.status_code == 200 and r.json()["apiKey"]["status"] == "revoked"
    assert_envelope(httpx.get(f"{gateway.url}/2.0/directories/in", headers=bearer(token)), 401, "authentication")
    assert_envelope(httpx.get(f"{gateway.url}/2.0/directories/in", headers={"X-API-Key": key}), 401, "authentication")
    r = httpx.post(f"{gateway.url}/token", data={"grant_type": "apikey", "key": key})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_regenerated_key_kills_the_old_secret_and_its_tokens(gateway: Gateway, admin: httpx.Client) -> None:
    key, record = new_key(admin, "svc-app")
    token = token_for(gateway, key)
    r = admin.post(f"/admin/api-keys/{record['id']}/regenerate")
    assert r.status_code == 200
    fresh = r.json()["key"]
    assert fresh != key and fresh.startswith(f"mft_ak_{record['id']}_")
    assert_envelope(httpx.get(f"{gateway.url}/2.0/directories/in", headers=bearer(token)), 401, "authentication")
    assert_envelope(httpx.get(f"{gateway.url}/2.0/directories/in", headers={"X-API-Key": key}), 401, "authentication")
    assert httpx.get(f"{gateway.url}/2.0/directories/in", headers=bearer(token_for(gateway, fresh))).status_code == 200


def test_ended_agreement_answers_410(gateway: Gateway, admin: httpx.Client) -> None:
    key, _ = new_key(admin, "svc-old")
    r = httpx.post(f"{gateway.url}/token", data={"grant_type": "apikey", "key": key})
    assert r.status_code == 410 and r.json()["error"] == "invalid_grant"
    assert_envelope(httpx.get(f"{gateway.url}/2.0/directories", headers={"X-API-Key": key}), 410, "authentication")


def test_valid_credential_without_scope_or_role_gets_403(gateway: Gateway, admin: httpx.Client) -> None:
    reader, _ = new_key(admin, "svc-read")
    headers = {"X-API-Key": reader}
    assert httpx.get(f"{gateway.url}/2.0/directories/in", headers=headers).status_code == 200
    r = httpx.put(f"{gateway.url}/2.0/files/in/nope.txt", headers=headers, files={"file": ("nope.txt", b"x")})
    assert_envelope(r, 403, "authorization", "Missing scope 'files:write'")
    app_token = token_for(gateway, new_key(admin, "svc-app")[0])
    assert_envelope(httpx.get(f"{gateway.url}/admin/runs", headers=bearer(app_token)), 403, "authorization")
    operator = {"X-API-Key": new_key(admin, "opbot")[0]}
    assert httpx.get(f"{gateway.url}/admin/runs", headers=operator).status_code == 200
    assert_envelope(httpx.get(f"{gateway.url}/admin/api-keys", headers=operator), 403, "authorization")


def test_missing_or_garbage_bearer_gets_401_in_each_envelope(gateway: Gateway) -> None:
    for path in ("/2.0/directories/in", "/admin/runs", "/admin/api-keys"):
        assert_envelope(httpx.get(f"{gateway.url}{path}"), 401, "authentication")
        garbage = httpx.get(f"{gateway.url}{path}", headers=bearer("x.y.z"))
        assert_envelope(garbage, 401, "authentication", "Invalid or expired token")
        assert garbage.headers["www-authenticate"] == 'Bearer error="invalid_token"'  # RFC 6750 3.1
        assert_envelope(httpx.get(f"{gateway.url}{path}", headers={"Authorization": "Bearer"}), 401, "authentication")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"owner": "nobody", "name": "k"}, "owner"),
        ({"owner": "svc-read", "name": "k", "scopes": ["files:write"]}, "scopes"),
        ({"owner": "svc-app", "name": "k", "scopes": ["files:delete"]}, "scopes"),
        ({"owner": "svc-app", "name": "k", "expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
        ({"owner": "svc-app", "name": "k", "expiresAt": "soon"}, "expiresAt"),
        ({"owner": "svc-app", "name": "k", "colour": "red"}, "colour"),
        ({"owner": "svc-app"}, "name"),
    ],
)
def test_admin_api_key_bad_input_is_400_and_creates_nothing(
    admin: httpx.Client, body: dict[str, Any], field: str
) -> None:
    before = admin.get("/admin/api-keys").json()["total"]
    r = admin.post("/admin/api-keys", json=body)
    assert_envelope(r, 400, "request_syntax")
    assert f"'{field}'" in r.json()["message"]
    assert admin.get("/admin/api-keys").json()["total"] == before


def test_admin_api_keys_unknown_id_404_and_partner_403(gateway: Gateway, admin: httpx.Client) -> None:
    assert_envelope(admin.get("/admin/api-keys/ffffffffffffffff"), 404, "io")
    assert_envelope(admin.post("/admin/api-keys/ffffffffffffffff/revoke"), 404, "io")
    assert_envelope(admin.post("/admin/api-keys", content=b"[1]"), 400, "request_syntax")
    with contextlib.closing(gateway.client("alice")) as alice:
        assert_envelope(alice.get("/admin/api-keys"), 403, "authorization")


def test_seed004_client_secret_basic_flow_and_the_metadata_document(gateway: Gateway, curl: Curl) -> None:
    meta = httpx.get(f"{gateway.url}/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == gateway.url and meta["token_endpoint"] == f"{gateway.url}/oauth2/token"
    assert meta["grant_types_supported"] == ["client_credentials"]
    assert meta["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ]
    got = curl("-u", "batch:batch-secret", "-d", "grant_type=client_credentials", path="/oauth2/token")
    assert got.status == 200 and got.headers["cache-control"] == "no-store"
    body = got.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "files:read files:write"
    token = body["access_token"]
    kid = jwt.get_unverified_header(token)["kid"]
    keys = httpx.get(meta["jwks_uri"]).json()["keys"]
    match = [k for k in keys if k["kid"] == kid]
    assert match, keys
    claims = jwt.decode(token, jwt.PyJWK(match[0]).key, algorithms=["ES256"], audience=gateway.url)
    assert claims["sub"] == "svc-app" and claims["client_id"] == "batch"
    assert httpx.get(f"{gateway.url}/2.0/directories/in", headers=bearer(token, "bearer")).status_code == 200


def test_client_secret_post_and_json_body_and_scope_narrowing(gateway: Gateway) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": "batch",
        "client_secret": "batch-secret",
        "scope": "files:read",
    }
    r = httpx.post(f"{gateway.url}/oauth2/token", data=form)
    assert r.status_code == 200 and r.json()["scope"] == "files:read"
    put = httpx.put(
        f"{gateway.url}/2.0/files/in/denied.txt", headers=bearer(r.json()["access_token"]), files={"file": ("d", b"x")}
    )
    assert_envelope(put, 403, "authorization")
    r = httpx.post(f"{gateway.url}/oauth2/token", json={**form, "scope": "files:write"})
    assert r.status_code == 200 and r.json()["scope"] == "files:write"


def _basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


@pytest.mark.parametrize(
    ("headers", "form", "status", "error", "challenge"),
    [
        (_basic("batch", "wrong"), {"grant_type": "client_credentials"}, 401, "invalid_client", True),
        (_basic("ghost", "x"), {"grant_type": "client_credentials"}, 401, "invalid_client", True),
        (
            {},
            {"grant_type": "client_credentials", "client_id": "batch", "client_secret": "no"},
            401,
            "invalid_client",
            False,
        ),
        ({}, {"grant_type": "client_credentials"}, 401, "invalid_client", False),
        (_basic("batch", "batch-secret"), {"grant_type": "password"}, 400, "unsupported_grant_type", False),
        (_basic("batch", "batch-secret"), {}, 400, "invalid_request", False),
        (
            _basic("batch", "batch-secret"),
            {"grant_type": "client_credentials", "scope": "runs:read"},
            400,
            "invalid_scope",
            False,
        ),
        (
            _basic("batch", "batch-secret"),
            {"grant_type": "client_credentials", "client_id": "batch", "client_secret": "batch-secret"},
            400,
            "invalid_request",
            False,
        ),
        (
            {},
            {"grant_type": "client_credentials", "client_assertion_type": "urn:x", "client_assertion": "a.b.c"},
            400,
            "invalid_request",
            False,
        ),
    ],
)
def test_oauth2_token_errors_are_rfc6749_exactly(
    gateway: Gateway, headers: dict[str, str], form: dict[str, str], status: int, error: str, challenge: bool
) -> None:
    r = httpx.post(f"{gateway.url}/oauth2/token", data=form, headers=headers)
    assert r.status_code == status, r.text
    assert r.json()["error"] == error and set(r.json()) == {"error", "error_description"}
    assert r.headers["cache-control"] == "no-store"
    assert ("www-authenticate" in r.headers) == challenge


def test_private_key_jwt_assertion_as_seed000_posts_it_a_bad_one_is_invalid_client(gateway: Gateway) -> None:
    """A wrongly signed assertion (JSON body, as seed 000 posts it) is invalid_client without a
    Basic challenge."""
    now = int(time.time())
    claims = {"iss": "signer", "sub": "signer", "aud": f"{gateway.url}/oauth2/token", "exp": now + 60, "jti": "j1"}
    wrong_key = ec.generate_private_key(ec.SECP256R1())
    assertion = jwt.encode(claims, wrong_key, algorithm="ES256", headers={"kid": "k1"})
    body = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    r = httpx.post(f"{gateway.url}/oauth2/token", json=body)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text
    assert "www-authenticate" not in r.headers and r.headers["cache-control"] == "no-store"


def _assertion(audience: str, jti: str) -> dict[str, str]:
    """Seed 000's token request: an ES256 assertion with ``kid``, iss = sub = the client id."""
    now = int(time.time())
    claims = {"iss": "signer", "sub": "signer", "aud": audience, "jti": jti, "iat": now, "nbf": now, "exp": now + 240}
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": jwt.encode(claims, _SIGNER_PRIVATE, algorithm="ES256", headers={"kid": "k1"}),
    }


def test_private_key_jwt_seed000_flow_token_then_lowercase_bearer_and_a_replay_refused(gateway: Gateway) -> None:
    body = _assertion(f"{gateway.url}/oauth2/token", "seed000-flow-1")
    r = httpx.post(f"{gateway.url}/oauth2/token", json=body)
    assert r.status_code == 200, r.text
    token = r.json()
    assert token["token_type"].lower() == "bearer" and token["scope"] == "files:read"
    listed = httpx.get(f"{gateway.url}/2.0/directories/in", headers=bearer(token["access_token"], "bearer"))
    assert listed.status_code == 200, listed.text
    again = httpx.post(f"{gateway.url}/oauth2/token", json=body)
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"
    elsewhere = httpx.post(f"{gateway.url}/oauth2/token", json=_assertion("https://other.example/oauth2/token", "j2"))
    assert elsewhere.status_code == 401 and elsewhere.json()["error"] == "invalid_client"


def test_an_assertion_used_on_one_peer_is_refused_by_another(tmp_path: Path) -> None:
    """Peers of one cluster share ``public_url`` (the assertion's audience) and the catalog, so a
    jti accepted by one is a replay for every other."""
    config = machine_config()
    config["gateway.yaml"]["server"]["public_url"] = "https://mft.cluster.test"
    with pg.fresh_database() as url:
        one = Gateway(root=tmp_path / "one", database_url=url, config=config)
        two = Gateway(root=tmp_path / "two", database_url=url, config=config)
        with running(one), running(two):
            body = _assertion("https://mft.cluster.test/oauth2/token", "cluster-jti-1")
            first = httpx.post(f"{one.url}/oauth2/token", json=body)
            assert first.status_code == 200, first.text
            replay = httpx.post(f"{two.url}/oauth2/token", json=body)
            assert replay.status_code == 401 and replay.json()["error"] == "invalid_client", replay.text
            fresh = httpx.post(
                f"{two.url}/oauth2/token", json=_assertion("https://mft.cluster.test/oauth2/token", "j3")
            )
            assert fresh.status_code == 200, fresh.text


def test_introspect_and_revoke_a_client_token(gateway: Gateway) -> None:
    auth = _basic("batch", "batch-secret")
    token = httpx.post(f"{gateway.url}/oauth2/token", data={"grant_type": "client_credentials"}, headers=auth).json()[
        "access_token"
    ]
    seen = httpx.post(f"{gateway.url}/oauth2/introspect", data={"token": token}, headers=auth).json()
    assert seen["active"] is True and seen["client_id"] == "batch" and seen["sub"] == "svc-app"
    other = httpx.post(
        f"{gateway.url}/oauth2/introspect", data={"token": token}, headers=_basic("reader", "reader-secret")
    )
    assert other.json() == {"active": False}  # another client's token is not its business
    assert (
        httpx.post(
            f"{gateway.url}/oauth2/revoke", data={"token": token}, headers=_basic("reader", "reader-secret")
        ).status_code
        == 200
    )
    assert httpx.get(f"{gateway.url}/2.0/directories/in", headers=bearer(token)).status_code == 200
    r = httpx.post(
        f"{gateway.url}/oauth2/revoke", data={"token": token, "token_type_hint": "access_token"}, headers=auth
    )
    assert r.status_code == 200
    assert_envelope(httpx.get(f"{gateway.url}/2.0/directories/in", headers=bearer(token)), 401, "authentication")
    assert httpx.post(f"{gateway.url}/oauth2/introspect", data={"token": token}, headers=auth).json() == {
        "active": False
    }
    assert httpx.post(f"{gateway.url}/oauth2/revoke", data={"token": "garbage"}, headers=auth).status_code == 200
    r = httpx.post(f"{gateway.url}/oauth2/revoke", data={}, headers=auth)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_cli_api_key_create_list_regenerate_revoke(gateway: Gateway, catalog_url: str | None) -> None:
    base = [str(SERVE), "api-key"]
    where = ["--config", str(gateway.config_dir), "--data-dir", str(gateway.data_dir)]
    where += ["--database-url", catalog_url] if catalog_url else []

    def cli(*args: str) -> str:
        done = subprocess.run([*base, args[0], *where, *args[1:]], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    key = cli("create", "--owner", "svc-app", "--name", "from the CLI", "--scope", "files:read").strip()
    key_id = key.split("_")[2]
    assert httpx.get(f"{gateway.url}/2.0/directories/in", headers={"X-API-Key": key}).status_code == 200
    listed = {k["id"]: k for k in json.loads(cli("list", "--owner", "svc-app", "--json"))}
    assert listed[key_id]["scopes"] == ["files:read"] and listed[key_id]["createdBy"] == "cli"
    fresh = cli("regenerate", key_id).strip()
    assert (
        fresh != key and httpx.get(f"{gateway.url}/2.0/directories/in", headers={"X-API-Key": fresh}).status_code == 200
    )
    cli("revoke", key_id)
    deadline = time.monotonic() + 3
    while httpx.get(f"{gateway.url}/2.0/directories/in", headers={"X-API-Key": fresh}).status_code != 401:
        assert time.monotonic() < deadline, "a key revoked by the CLI still works on the server"
        time.sleep(0.05)
    done = subprocess.run([*base, "create", *where, "--owner", "nobody", "--name", "x"], capture_output=True, text=True)
    assert done.returncode == 2 and "owner" in done.stderr


def test_revocation_through_one_peer_fails_the_token_on_another_within_a_second(tmp_path: Path) -> None:
    with pg.fresh_database() as url:
        one = Gateway(root=tmp_path / "one", database_url=url, config=machine_config())
        two = Gateway(root=tmp_path / "two", database_url=url, config=machine_config())
        with running(one), running(two), contextlib.closing(one.client("root")) as admin:
            key, record = new_key(admin, "svc-app")
            token = token_for(one, key)
            for peer in (one, two):  # both peers have verified (and cached) the token
                assert httpx.get(f"{peer.url}/2.0/directories/in", headers=bearer(token)).status_code == 200
                assert httpx.get(f"{peer.url}/2.0/directories/in", headers={"X-API-Key": key}).status_code == 200
            assert admin.post(f"/admin/api-keys/{record['id']}/revoke").status_code == 200
            revoked = time.monotonic()
            for headers in (bearer(token), {"X-API-Key": key}):
                while httpx.get(f"{two.url}/2.0/directories/in", headers=headers).status_code != 401:
                    assert time.monotonic() - revoked < 1.5, "still accepted by the other peer"
                    time.sleep(0.02)
            assert time.monotonic() - revoked < 1.5


def test_changing_the_owner_roles_invalidates_its_tokens(tmp_path: Path) -> None:
    gw = Gateway(root=tmp_path / "gw", config=machine_config())
    with running(gw), contextlib.closing(gw.client("root")) as admin:
        token = token_for(gw, new_key(admin, "svc-app")[0])
        assert httpx.get(f"{gw.url}/2.0/directories/in", headers=bearer(token)).status_code == 200
    gw.config["actors.yaml"]["actors"]["AppB"]["service_accounts"]["svc-app"]["scopes"] = ["files:read"]
    gw.config["oauth-clients.yaml"]["clients"]["batch"]["scopes"] = ["files:read"]
    with running(gw):  # same catalog, same signing key: only the account changed
        assert_envelope(httpx.get(f"{gw.url}/2.0/directories/in", headers=bearer(token)), 401, "authentication")
