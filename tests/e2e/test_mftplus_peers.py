"""Two gateway processes on one PostgreSQL catalog: an agent registered through one works on the
other, and once an admin disables it through one, the other refuses its key on /api at the very
next request (and on /2.0 within the API-key cache's second)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import pg
from tests.e2e.harness import Gateway, running
from tests.e2e.mftplus_world import bearer_of, mftplus_config, register

pytestmark = pytest.mark.e2e


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[tuple[Gateway, Gateway]]:
    with pg.fresh_database() as url:
        a = Gateway(root=tmp_path / "a", database_url=url, config=mftplus_config())
        b = Gateway(root=tmp_path / "b", database_url=url, config=mftplus_config())
        with running(a), running(b):
            yield a, b


def test_admin_disable_on_one_peer_refuses_the_key_at_once_on_the_other(peers: tuple[Gateway, Gateway]) -> None:
    a, b = peers
    with contextlib.closing(a.client("root")) as admin:
        agent = register(a, bearer_of(a, admin, "alice"), "two-peers")
        key = {"X-API-Key": agent["apiKey"]}
        beat = {"status": "online"}
        assert httpx.post(f"{b.url}/api/agents/heartbeat", json=beat, headers=key).status_code == 200
        # The key also authenticates on /2.0 (as its customer), where API keys are cached for a second.
        assert httpx.get(f"{b.url}/2.0/directories/inbox", headers=key).status_code == 200
        r = admin.patch(f"/api/agents/{agent['agent']['id']}", json={"enabled": False})
        assert r.status_code == 200 and r.json()["data"]["status"] == "disabled"
    r = httpx.post(f"{b.url}/api/agents/heartbeat", json=beat, headers=key)
    assert r.status_code == 401 and r.json()["success"] is False
    assert httpx.get(f"{b.url}/api/transfers", headers=key).status_code == 401
    deadline = time.monotonic() + 3
    while httpx.get(f"{b.url}/2.0/directories/inbox", headers=key).status_code != 401:
        assert time.monotonic() < deadline, "the revoked key still works on /2.0 of the other peer"
        time.sleep(0.1)
