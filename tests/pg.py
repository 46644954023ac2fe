"""PostgreSQL for tests: a fresh, uniquely named database per use, dropped afterwards.

``GATEWAY_TEST_POSTGRES``: unset/``auto`` runs the PostgreSQL variants when a server answers at
``GATEWAY_TEST_PG_DSN`` and skips them (saying so) otherwise; ``require`` turns an unreachable
server into a failure (CI); ``off`` skips them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def mode() -> str:
    return os.environ.get("GATEWAY_TEST_POSTGRES", "auto").lower()


def admin_dsn() -> str:
    return os.environ.get("GATEWAY_TEST_PG_DSN", DEFAULT_DSN)


def _with_database(dsn: str, database: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{database}"


async def _execute(sql: str) -> None:
    conn = await asyncpg.connect(admin_dsn(), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def require_postgres() -> None:
    """Skip (or, under ``require``, fail) when no PostgreSQL server answers."""
    if mode() == "off":
        pytest.skip("PostgreSQL tests switched off (GATEWAY_TEST_POSTGRES=off)")
    try:
        asyncio.run(_execute("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if mode() == "require":
            pytest.fail(f"PostgreSQL is required (GATEWAY_TEST_POSTGRES=require) but unreachable: {exc}")
        pytest.skip(f"no PostgreSQL at {admin_dsn()} ({exc}); set GATEWAY_TEST_POSTGRES=require to insist")


@contextmanager
def fresh_database() -> Iterator[str]:
    """Create an empty database and yield its SQLAlchemy URL (asyncpg driver)."""
    require_postgres()
    name = f"gw_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_execute(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(admin_dsn(), name).replace("postgresql://", "postgresql+asyncpg://", 1)
    finally:
        asyncio.run(_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def fetch(url: str, sql: str) -> list[Any]:
    """The rows of one query against the database at ``url`` (a SQLAlchemy URL from
    :func:`fresh_database`), for tests that check the catalog behind the peers' backs."""

    async def query() -> list[Any]:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            return list(await conn.fetch(sql))
        finally:
            await conn.close()

    return asyncio.run(query())
