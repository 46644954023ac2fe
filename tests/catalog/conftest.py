from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.catalog.db import Database, sqlite_url
from tests import pg


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    with pg.fresh_database() as url:
        yield url


@pytest.fixture
async def db(catalog_url: str) -> AsyncIterator[Database]:
    database = Database(catalog_url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.dispose()
