"""The app is an ASGI app that can live under a prefix inside another one."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.settings import Settings
from tests.e2e.harness import password


def _exercise(client: TestClient) -> None:
    r = client.post("/mft/2.0/login/basic", data={"username": "alice", "password": password("alice")})
    assert r.status_code == 200
    put = client.put("/mft/2.0/files/inbox/m%20x.txt", files={"file": ("m x.txt", b"mounted")})
    assert put.status_code == 201, put.text
    assert client.get("/mft/2.0/files/inbox/m%20x.txt").content == b"mounted"
    listing = client.get("/mft/2.0/directories/inbox?type=files").json()
    assert [e["name"] for e in listing["elements"]] == ["m x.txt"]
    # the mount prefix is not part of the virtual path, and %2F is still caught under it
    assert client.get("/mft/2.0/files/inbox%2Fm%20x.txt").status_code == 400


def test_mount_host_runs_gateway_lifespan_serves_under_prefix(settings: Settings) -> None:
    gateway = create_app(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with gateway.router.lifespan_context(gateway):
            yield

    with TestClient(Starlette(routes=[Mount("/mft", app=gateway)], lifespan=lifespan)) as client:
        _exercise(client)


def test_mount_without_host_lifespan_starts_runtime_on_first_request(settings: Settings) -> None:
    gateway = create_app(settings)
    with TestClient(Starlette(routes=[Mount("/mft", app=gateway)])) as client:
        _exercise(client)
        runtime = gateway.state.holder.runtime
        assert runtime is not None
        client.portal.call(runtime.db.dispose)  # type: ignore[union-attr]
