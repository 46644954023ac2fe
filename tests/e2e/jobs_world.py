"""The test world of seed 001's jobs and pipelines: an admin, two partners with a bearer token
each (OAuth2 client credentials), the default VFSs, and optionally an SFTP peer."""

from __future__ import annotations

from typing import Any

import httpx

from gateway.catalog.passwords import hash_password
from tests.e2e.harness import Gateway, default_config, password_hash

CLIENTS = {"admin": ("ops-admin", "admin-secret"), "acme": ("acme-app", "acme-secret"),
           "globex": ("globex-app", "globex-secret")}  # fmt: skip


ENROL = {"acme": "enrol-acme-jobs", "globex": "enrol-globex-jobs"}


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
    config["gateway.yaml"]["agents"] = {
        "enrollments": [{"id": ENROL["acme"], "customer": "alice", "uses": 50},
                        {"id": ENROL["globex"], "customer": "sam", "uses": 50}]
    }  # fmt: skip
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


def agent(gw: Gateway, who: str, name: str) -> tuple[str, httpx.Client]:
    """Register an agent of ``who``'s partner by enrollment id; its id and a client sending its key."""
    body = {"name": name, "hostname": f"{name}.example.com", "os": "linux", "customerIdentifier": ENROL[who]}
    r = httpx.post(f"{gw.url}/api/agents/register", json=body)
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    return data["agent"]["id"], httpx.Client(base_url=gw.url, headers={"X-API-Key": data["apiKey"]}, timeout=30)
