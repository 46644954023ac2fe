"""The test world of the ``/api`` (seed 001) e2e tests: the default partners, an admin
``root``, two enrollment ids, and a short offline time so that offline can be watched."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx

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
