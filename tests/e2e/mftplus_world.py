"""The test worlds of the ``/api`` (seed 001) e2e tests.

i13a (agents, transfers): the default partners, an admin ``root``, two enrollment ids, and a
short offline time so that offline can be watched. i13b (jobs, pipelines): an admin, two
partners with a bearer token each (OAuth2 client credentials), the default VFSs, and optionally
an SFTP peer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx

from gateway.catalog.passwords import hash_password
from tests.e2e.harness import Gateway, default_config, password_hash

ENROL_A = "enrol-partnera-0001"  # alice (PartnerA), two uses
ENROL_S = "enrol-partners-0001"  # sam (PartnerS), one use
OFFLINE_AFTER = 3


def mftplus_config() -> dict[str, dict[str, Any]]:
    config = default_config()
    config["actors.yaml"]["actors"]["Ops"] = {
        "kind": "application",
        "users": {"root": {"password_hash": password_hash("root"), "admin": True}},
    }
    config["gateway.yaml"]["agents"] = {
        "offline_after_seconds": OFFLINE_AFTER,
        "enrollments": [
            {"id": ENROL_A, "customer": "alice", "uses": 2},
            {"id": ENROL_S, "customer": "sam"},
        ],
    }
    return config


def bearer_of(gateway: Gateway, admin: httpx.Client, user: str) -> dict[str, str]:
    """A customer's bearer token: an API key an admin made for ``user``, exchanged at /token."""
    r = admin.post("/admin/api-keys", json={"owner": user, "name": f"token key of {user}"})
    assert r.status_code == 201, r.text
    r = httpx.post(f"{gateway.url}/token", data={"grant_type": "apikey", "key": r.json()["key"]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@contextlib.contextmanager
def api_client(gateway: Gateway, headers: dict[str, str] | None = None) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, headers=headers or {}, timeout=30) as client:
        yield client


def register(gateway: Gateway, headers: dict[str, str], name: str, **extra: Any) -> dict[str, Any]:
    body = {"name": name, "hostname": f"{name}.example.com", "os": "linux", "version": "0.1.0", **extra}
    r = httpx.post(f"{gateway.url}/api/agents/register", json=body, headers=headers)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


CLIENTS = {"admin": ("ops-admin", "admin-secret"), "acme": ("acme-app", "acme-secret"),
           "globex": ("globex-app", "globex-secret")}  # fmt: skip


def world(connections: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    config = default_config()
    actors = config["actors.yaml"]["actors"]
    actors["Ops"] = {
        "kind": "application",
        "users": {"root": {"password_hash": password_hash("root"), "admin": True}},
        "service_accounts": {"adminbot": {"roles": ["admin"]}},
    }
    actors["PartnerA"]["service_accounts"] = {"acmebot": {"roles": ["partner"]}}
    actors["PartnerS"]["service_accounts"] = {"globexbot": {"roles": ["partner"]}}
    principals = {"ops-admin": ("adminbot", "runs:read"), "acme-app": ("acmebot", "files:read"),
                  "globex-app": ("globexbot", "files:read")}  # fmt: skip
    secrets = dict(CLIENTS.values())
    config["oauth-clients.yaml"] = {
        "clients": {
            name: {"principal": who, "scopes": [scope], "secret_hash": hash_password(secrets[name])}
            for name, (who, scope) in principals.items()
        }
    }
    config["tasks.yaml"] = {"limits": {"max_active_runs": 20}, "tasks": {}}
    if connections:
        config["connections.yaml"] = {"connections": connections}
    return config


def bearer(gw: Gateway, who: str) -> httpx.Client:
    """A client holding ``who``'s bearer token (seed 001: "JWT Bearer Authentication")."""
    client, secret = CLIENTS[who]
    scope = "runs:read" if who == "admin" else "files:read"
    r = httpx.post(
        f"{gw.url}/oauth2/token", auth=(client, secret), data={"grant_type": "client_credentials", "scope": scope}
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    return httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def envelope_error(r: httpx.Response, status: int) -> dict[str, Any]:
    """Seed 001's error shape: ``{"success": false, "error": str, "details": ...}``."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["success"] is False and isinstance(body["error"], str) and body["error"], body
    return dict(body)
