"""Catalog engine: connection setup, schema migrations, and the write funnel.

SQLite (the embedded default) runs its statements inline on the event loop through the
standard ``sqlite3`` driver. An indexed lookup there takes microseconds, while an async driver
hands every statement to a thread and back — measured at ~0.5 ms a round trip here, about ten
round trips a request — so the thread hop, not SQLite, was the cost of every small request.
Only the commit, which waits for an fsync, runs in a worker thread.

SQLite allows one writer at a time, and a durable commit costs an fsync. Every write in this
process goes through one funnel that also *group-commits*: each ``write()`` block runs in its
own savepoint of a shared transaction (its failure rolls back only its own statements), and one
commit covers every block that ran before the committer got its turn, so the writes that queue
up while one fsync is in progress share the next one. PostgreSQL (asyncpg) needs no funnel:
each block is its own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Executable,
    NestedTransaction,
    Transaction,
    create_engine,
    event,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_MIGRATIONS = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 0x6D667467  # arbitrary advisory-lock key shared by every peer
# The newest revision in migrations/versions (a test keeps the two in step): when the catalog is
# already there, start-up skips importing Alembic and Mako, ~11 MiB of a process's memory.
HEAD_REVISION = "0004"


def now_us() -> int:
    return time.time_ns() // 1000


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'catalog.db'}"


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` DSNs (asyncpg is used) and SQLite URLs of either driver."""
    for plain, driver in (("postgresql://", "postgresql+asyncpg://"), ("postgres://", "postgresql+asyncpg://")):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    if url.startswith("sqlite+aiosqlite:///"):
        return "sqlite:///" + url[len("sqlite+aiosqlite:///") :]
    return url


class CatalogConnection(Protocol):
    """What catalog functions use of a connection: one statement at a time."""

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]: ...


class _Inline:
    """A pooled sqlite3 connection used directly on the event loop."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        return self.conn.execute(statement, parameters)


class Database:
    """The catalog's engine plus the write funnel; one per process."""

    def __init__(self, url: str, echo: bool = False, durable: bool = True) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._batch: _Batch | None = None
        self.async_engine: AsyncEngine | None = None
        if self.is_sqlite:
            # check_same_thread off: the committer thread finishes transactions the loop began;
            # the write lock keeps any one connection to one user at a time.
            self.sync_engine: Engine = create_engine(
                self.url, echo=echo, pool_size=32, max_overflow=32, connect_args={"check_same_thread": False}
            )
            synchronous = "FULL" if durable else "NORMAL"
            event.listen(self.sync_engine, "connect", lambda conn, _: _sqlite_pragmas(conn, synchronous))
        else:
            connect_args = {} if durable else {"server_settings": {"synchronous_commit": "off"}}
            self.async_engine = create_async_engine(
                self.url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True, connect_args=connect_args
            )
            self.sync_engine = self.async_engine.sync_engine

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[CatalogConnection]:
        if self.async_engine is not None:
            async with self.async_engine.connect() as conn:
                yield conn
            return
        with self.sync_engine.connect() as sync_conn:
            yield _Inline(sync_conn)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[CatalogConnection]:
        """A write transaction: committed (durably, when configured) before the block's exit
        returns; rolled back on any exception raised in the block.

        If the caller is cancelled while its commit is in flight, the commit is still waited for
        and then CancelledError is raised: the change may have been committed.
        """
        if self.async_engine is not None:
            async with self.async_engine.begin() as conn:
                yield conn
            return
        assert self._write_lock is not None
        async with self._write_lock:
            if self._batch is None:
                self._batch = _Batch(self.sync_engine)
                asyncio.get_running_loop().create_task(self._commit_batch())
            batch = self._batch
            savepoint = batch.savepoint()
            try:
                yield _Inline(batch.conn)
            except BaseException:
                savepoint.rollback()
                raise
            savepoint.commit()
        try:
            await asyncio.shield(batch.done)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await batch.done
            raise

    async def _commit_batch(self) -> None:
        # FIFO lock: every block that queued before this task runs first, in the same batch.
        assert self._write_lock is not None
        async with self._write_lock:
            batch, self._batch = self._batch, None
            assert batch is not None
            try:
                await asyncio.to_thread(batch.commit)  # the fsync: off the loop
            except BaseException as exc:
                batch.done.set_exception(exc)
            else:
                batch.done.set_result(None)

    async def current_revision(self) -> str | None:
        try:
            async with self.read() as conn:
                return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except Exception:
            return None  # no catalog yet

    async def migrate(self) -> None:
        """Bring the schema to the newest revision; safe when several peers start at once."""
        if await self.current_revision() == HEAD_REVISION:
            return
        if self.async_engine is None:
            await asyncio.to_thread(self._migrate_sqlite)
            return
        async with self.async_engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            await conn.run_sync(_upgrade)

    def _migrate_sqlite(self) -> None:
        with self.sync_engine.begin() as conn:
            _upgrade(conn)

    async def check(self) -> None:
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self.async_engine is not None:
            await self.async_engine.dispose()
        else:
            self.sync_engine.dispose()


class _Batch:
    """One open SQLite transaction shared by the write blocks of one group commit."""

    def __init__(self, engine: Engine) -> None:
        self.conn = engine.connect()
        try:
            self.transaction: Transaction = self.conn.begin()
            # The driver is in autocommit mode (see _sqlite_pragmas): without this BEGIN, the first
            # SAVEPOINT would open the transaction and its RELEASE would commit it.
            self.conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self.conn.close()
            raise
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.done.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)

    def savepoint(self) -> NestedTransaction:
        return self.conn.begin_nested()

    def commit(self) -> None:
        try:
            self.transaction.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                self.transaction.rollback()
            raise
        finally:
            self.conn.close()


def _upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def _sqlite_pragmas(dbapi_conn: Any, synchronous: str) -> None:
    # sqlite3's implicit transactions would turn savepoints into commits; transactions are begun
    # explicitly by the write funnel instead, and reads run in autocommit.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the writer; FULL syncs each commit so an acknowledged upload
    # survives power loss, not just a process crash (NORMAL, when relaxed, only the latter).
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA synchronous={synchronous}")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
