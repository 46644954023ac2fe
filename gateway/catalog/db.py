"""Catalog engine: connection setup, schema migrations, and the write funnel.

SQLite (the embedded default) allows one writer at a time, and a durable commit costs an fsync.
Every write in this process therefore goes through one funnel that also *group-commits*: each
``write()`` block runs in its own savepoint of a shared transaction (its failure rolls back only
its own statements), and one commit covers every block that ran before the committer got its
turn — so the writes that queue up while one fsync is in progress share the next one.
PostgreSQL needs no funnel: each block is its own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction, create_async_engine

_MIGRATIONS = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 0x6D667467  # arbitrary advisory-lock key shared by every peer


def now_us() -> int:
    return time.time_ns() // 1000


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{data_dir / 'catalog.db'}"


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` / ``sqlite://`` DSNs and pick the async drivers."""
    for plain, driver in (("postgresql://", "postgresql+asyncpg://"), ("postgres://", "postgresql+asyncpg://")):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


class Database:
    """The catalog's engine plus the write funnel; one per process."""

    def __init__(self, url: str, echo: bool = False, durable: bool = True) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
            if not durable:
                kwargs["connect_args"] = {"server_settings": {"synchronous_commit": "off"}}
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._batch: _Batch | None = None
        if self.is_sqlite:
            synchronous = "FULL" if durable else "NORMAL"
            event.listen(self.engine.sync_engine, "connect", lambda conn, _: _sqlite_pragmas(conn, synchronous))

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed (durably, when configured) before the block's exit
        returns; rolled back on any exception raised in the block.

        If the caller is cancelled while its commit is in flight, the commit is still waited for
        and then CancelledError is raised: the change may have been committed.
        """
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock:
            if self._batch is None:
                self._batch = await _Batch.open(self.engine)
                asyncio.get_running_loop().create_task(self._commit_batch())
            batch = self._batch
            savepoint = await batch.conn.begin_nested()
            try:
                yield batch.conn
            except BaseException:
                await savepoint.rollback()
                raise
            await savepoint.commit()
        try:
            await asyncio.shield(batch.done)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await batch.done
            raise

    async def _commit_batch(self) -> None:
        # FIFO lock: every block that queued before this task runs first, in the same batch.
        async with self._write_lock:  # type: ignore[union-attr]
            batch, self._batch = self._batch, None
            assert batch is not None
            try:
                await batch.transaction.commit()
            except BaseException as exc:
                batch.done.set_exception(exc)
                with contextlib.suppress(Exception):
                    await batch.transaction.rollback()
            else:
                batch.done.set_result(None)
            finally:
                await batch.conn.close()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def migrate(self) -> None:
        """Bring the schema to the newest revision; safe when several peers start at once."""
        async with self.engine.begin() as conn:
            if not self.is_sqlite:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            await conn.run_sync(_upgrade)

    async def check(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


class _Batch:
    """One open SQLite transaction shared by the write blocks of one group commit."""

    def __init__(self, conn: AsyncConnection, transaction: AsyncTransaction) -> None:
        self.conn = conn
        self.transaction = transaction
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.done.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)

    @classmethod
    async def open(cls, engine: AsyncEngine) -> _Batch:
        conn = await engine.connect()
        try:
            return cls(conn, await conn.begin())
        except BaseException:
            await conn.close()
            raise


def _upgrade(conn: Connection) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def _sqlite_pragmas(dbapi_conn: Any, synchronous: str) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the writer; FULL syncs each commit so an acknowledged upload
    # survives power loss, not just a process crash (NORMAL, when relaxed, only the latter).
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA synchronous={synchronous}")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
