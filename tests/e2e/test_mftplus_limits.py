"""Seed 001's rate-limit tiers on /api: registration counts in ``public`` per address, agent
calls in ``agent`` per agent; a refusal is 429 in the /api envelope with Retry-After and the
X-RateLimit-* headers (Reset in Unix epoch seconds)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.harness import Gateway, running
from tests.e2e.mftplus_world import ENROL_A, mftplus_config

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gateway(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    config = mftplus_config()
    config["gateway.yaml"]["rate_limits"] = {"public": 2, "agent": 3, "authenticated": 100_000}
    with running(Gateway(root=tmp_path_factory.mktemp("gw"), database_url=catalog_url, config=config)) as gw:
        yield gw


def test_public_and_agent_tiers_refuse_with_429_in_the_api_envelope(gateway: Gateway) -> None:
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)  # one fixed window for the whole test
    body = {"name": "limited", "customerIdentifier": ENROL_A}
    first = httpx.post(f"{gateway.url}/api/agents/register", json=body)
    assert first.status_code == 201, first.text
    assert first.headers["x-ratelimit-limit"] == "2" and first.headers["x-ratelimit-remaining"] == "1"
    assert int(first.headers["x-ratelimit-reset"]) % 60 == 0 and int(first.headers["x-ratelimit-reset"]) > time.time()
    assert httpx.post(f"{gateway.url}/api/agents/register", json={**body, "name": "second"}).status_code == 201
    refused = httpx.post(f"{gateway.url}/api/agents/register", json={**body, "name": "third"})
    assert refused.status_code == 429 and refused.json()["success"] is False
    assert int(refused.headers["retry-after"]) >= 1 and refused.headers["x-ratelimit-remaining"] == "0"
    key = {"X-API-Key": first.json()["data"]["apiKey"]}
    answers = [httpx.post(f"{gateway.url}/api/agents/heartbeat", json={}, headers=key).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
