from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.settings import Settings
from tests.e2e.harness import default_config, password, write_config


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(config_dir=write_config(tmp_path / "config", default_config()), data_dir=tmp_path / "data")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """In-process client; server errors come back as responses, as a real server sends them."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def login(client: TestClient, user: str) -> None:
    r = client.post("/2.0/login/basic", data={"username": user, "password": password(user)})
    assert r.status_code == 200, r.text
