from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pg
from tests.e2e.harness import Curl, Gateway

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Each e2e module runs once on SQLite (embedded default) and once on PostgreSQL."""
    if request.param == "sqlite":
        yield None
        return
    with pg.fresh_database() as url:
        yield url


@pytest.fixture(scope="module")
def gateway(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A running gateway with the default test configuration, shared by one module."""
    gw = Gateway(root=tmp_path_factory.mktemp("gw"), database_url=catalog_url).start()
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def curl(gateway: Gateway, tmp_path: Path) -> Curl:
    """A fresh curl "script" with its own cookie jar (not logged in)."""
    return Curl(gateway, tmp_path / "cookies.txt")
