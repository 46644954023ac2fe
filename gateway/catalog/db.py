"""Catalog engine: connection setup, schema migrations, and the write funnel.

SQLite (the embedded default) runs its statements inline on the event loop through the
standard ``sqlite3`` driver. An indexed lookup there takes microseconds, while an async driver
hands every statement to a thread and back — measured at ~0.5 ms a round trip here, about ten
round trips a request — so the thread hop, not SQLite, was the cost of every small request.
Only the commit, which waits for an fsync, runs in a worker thread; with ``durable`` off it
syncs nothing and runs inline too, and the WAL checkpoints (which do sync) move to a thread.

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
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Dialect,
    Engine,
    Executable,
    Transaction,
    create_engine,
    event,
    text,
)
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from gateway.catalog.writerlock import WriterLock

if TYPE_CHECKING:  # imported for PostgreSQL only: sqlalchemy.ext.asyncio brings in the ORM, ~7 MiB
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger("gateway.catalog")
_MIGRATIONS = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 0x6D667467  # arbitrary advisory-lock key shared by every peer
# The newest revision in migrations/versions (a test keeps the two in step): when the catalog is
# already there, start-up skips importing Alembic and Mako, ~11 MiB of a process's memory.
HEAD_REVISION = "0012"
_BUSY_TIMEOUT_MS = 10_000  # how long SQLite waits for another process's write lock
_CHECKPOINT_SECONDS = 0.5  # not durable: the longest a commit waits before starting a checkpoint
_WAL_RESTART_PAGES = 4096  # not durable: past this WAL length, a checkpoint holds writers off


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


class Prepared:
    """A hot statement, built once, whose parameters are all bound by name.

    On SQLite it runs straight on the ``sqlite3`` connection as SQL compiled once: SQLAlchemy's
    per-execution work (cache key, parameter processing, result wrapping) costs several times
    what SQLite takes for an indexed lookup. Only statements whose columns need no type
    conversion (integers and text) qualify. An INSERT names its ``columns``, which every
    parameter set must provide.
    """

    __slots__ = ("statement", "columns", "_compiled")

    def __init__(self, statement: Executable, columns: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.columns = list(columns) if columns is not None else None
        self._compiled: tuple[str, tuple[str, ...]] | None = None

    def sqlite(self, dialect: Dialect) -> tuple[str, tuple[str, ...]]:
        """The SQL with ``?`` placeholders and the parameter names in their order."""
        if self._compiled is None:
            element = cast(ClauseElement, self.statement)
            compiled = cast(SQLCompiler, element.compile(dialect=dialect, column_keys=self.columns))
            self._compiled = (compiled.string, tuple(compiled.positiontup or ()))
        return self._compiled


class CatalogConnection(Protocol):
    """What catalog functions use of a connection: one statement at a time."""

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]: ...

    async def rows(self, statement: Prepared, parameters: Mapping[str, Any]) -> list[Sequence[Any]]:
        """Every row of a prepared statement, fetched at once."""
        ...

    async def run(self, statement: Prepared, parameters: Mapping[str, Any]) -> int:
        """Execute a prepared statement; the number of rows it changed."""
        ...

    async def run_many(self, statement: Prepared, parameters: Sequence[Mapping[str, Any]]) -> None:
        """Execute a prepared statement once per parameter set, as one executemany."""
        ...

    async def insert(self, statement: Prepared, parameters: Mapping[str, Any]) -> int:
        """Insert one row with a prepared INSERT of a table with an integer key; the new key.

        On SQLite this is the driver's ``lastrowid``: a ``RETURNING`` clause makes SQLite
        finish the statement into a temporary result first, which cost a 4 KiB upload's two
        inserts about 12 µs more (raw SQLite, the catalog's schema).
        """
        ...


def _raw_rows(raw: sqlite3.Connection, dialect: Dialect, p: Prepared, parameters: Mapping[str, Any]) -> list[Any]:
    sql, names = p.sqlite(dialect)
    return raw.execute(sql, [parameters[n] for n in names]).fetchall()


def _positional(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], Sequence[Any]]:
    """A parameter set's values in the statement's order (``itemgetter``: C speed, for many rows)."""
    return itemgetter(*names) if len(names) > 1 else lambda p: [p[n] for n in names]


class _Inline:
    """A sqlite3 connection used directly on the event loop."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.raw: sqlite3.Connection = conn.connection.dbapi_connection  # type: ignore[assignment]
        self.dialect = conn.dialect

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        return self.conn.execute(statement, parameters)

    async def rows(self, statement: Prepared, parameters: Mapping[str, Any]) -> list[Sequence[Any]]:
        return _raw_rows(self.raw, self.dialect, statement, parameters)

    async def run(self, statement: Prepared, parameters: Mapping[str, Any]) -> int:
        sql, names = statement.sqlite(self.dialect)
        return self.raw.execute(sql, [parameters[n] for n in names]).rowcount

    async def run_many(self, statement: Prepared, parameters: Sequence[Mapping[str, Any]]) -> None:
        sql, names = statement.sqlite(self.dialect)
        self.raw.executemany(sql, map(_positional(names), parameters))

    async def insert(self, statement: Prepared, parameters: Mapping[str, Any]) -> int:
        sql, names = statement.sqlite(self.dialect)
        key = self.raw.execute(sql, [parameters[n] for n in names]).lastrowid
        assert key is not None
        return key


class _Async:
    """An asyncpg connection with the prepared-statement calls (plain SQLAlchemy execution)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        return await self.conn.execute(statement, parameters)

    async def rows(self, statement: Prepared, parameters: Mapping[str, Any]) -> list[Sequence[Any]]:
        return list((await self.conn.execute(statement.statement, dict(parameters))).all())

    async def run(self, statement: Prepared, parameters: Mapping[str, Any]) -> int:
        return int((await self.conn.execute(statement.statement, dict(parameters))).rowcount)

    async def run_many(self, statement: Prepared, parameters: Sequence[Mapping[str, Any]]) -> None:
        await self.conn.execute(statement.statement, [dict(p) for p in parameters])

    async def insert(self, statement: Prepared, parameters: Mapping[str, Any]) -> int:
        result = await self.conn.execute(statement.statement, dict(parameters))  # RETURNING the key, implicitly
        return int(result.inserted_primary_key[0])  # type: ignore[index]


class Database:
    """The catalog's engine plus the write funnel; one per process."""

    def __init__(self, url: str, echo: bool = False, durable: bool = True) -> None:
        self.url = normalize_url(url)
        self.durable = durable
        self.is_sqlite = self.url.startswith("sqlite")
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._batch: _Batch | None = None
        self._checkpoint: asyncio.Task[None] | None = None
        self._checkpoint_due = 0.0
        self._wal_pages = 0  # the WAL's length at the last checkpoint beside the commits
        self._reader: Any = None  # the pool's proxy of the hot-read connection, held for good
        self._writer: Connection | None = None  # the write funnel's connection, held for good
        self.async_engine: AsyncEngine | None = None
        if self.is_sqlite:
            # check_same_thread off: the committer thread finishes transactions the loop began;
            # the write lock keeps any one connection to one user at a time.
            self.sync_engine: Engine = create_engine(
                self.url, echo=echo, pool_size=32, max_overflow=32, connect_args={"check_same_thread": False}
            )
            database = self.sync_engine.url.database
            on_disk = database not in (None, "", ":memory:") and not database.startswith("file:")
            self._writer_lock = WriterLock(Path(database + "-writer.lock") if on_disk and database else None)
            synchronous = "FULL" if durable else "NORMAL"
            event.listen(self.sync_engine, "connect", lambda conn, _: _sqlite_pragmas(conn, synchronous, durable))
        else:
            from sqlalchemy.ext.asyncio import create_async_engine

            connect_args = {} if durable else {"server_settings": {"synchronous_commit": "off"}}
            self.async_engine = create_async_engine(
                self.url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True, connect_args=connect_args
            )
            self.sync_engine = self.async_engine.sync_engine

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[CatalogConnection]:
        if self.async_engine is not None:
            async with self.async_engine.connect() as conn:
                yield _Async(conn)
            return
        with self.sync_engine.connect() as sync_conn:
            yield _Inline(sync_conn)

    def write(self) -> contextlib.AbstractAsyncContextManager[CatalogConnection]:
        """A write transaction: committed (durably, when configured) before the block's exit
        returns; rolled back on any exception raised in the block.

        If the caller is cancelled while its commit is in flight, the commit is still waited for
        and then CancelledError is raised: the change may have been committed.
        """
        if self.async_engine is not None:
            return self._write_async()
        return _WriteBlock(self)

    @contextlib.asynccontextmanager
    async def _write_async(self) -> AsyncIterator[CatalogConnection]:
        assert self.async_engine is not None
        async with self.async_engine.begin() as conn:
            yield _Async(conn)

    async def _enter_batch(self) -> _Batch:
        """The open batch, opened if there is none (the caller holds the write lock)."""
        if self._batch is None:
            if self._writer is None:
                self._writer = self.sync_engine.connect()
                raw: sqlite3.Connection = self._writer.connection.dbapi_connection  # type: ignore[assignment]
                raw.execute("PRAGMA busy_timeout=0")
                # Each write block's SAVEPOINT keeps the original of every page the batch changes
                # in SQLite's statement journal until the batch ends; past 64 KiB SQLite spilled
                # it to a new temp file per batch, written page by page (~12 pwrite calls per
                # 4 KiB upload under load). In memory it is the batch's changed pages. Only this
                # connection: elsewhere (a migration's CREATE INDEX) temp data may be large.
                raw.execute("PRAGMA temp_store=MEMORY")
            self._batch = await _Batch.open(self._writer, self._writer_lock)
            asyncio.get_running_loop().create_task(self._commit_batch())
        return self._batch

    async def _commit_batch(self) -> None:
        # FIFO lock: every block that queued before this task runs first, in the same batch.
        assert self._write_lock is not None
        async with self._write_lock:
            batch, self._batch = self._batch, None
            assert batch is not None
            try:
                if self.durable:
                    await asyncio.to_thread(batch.commit)  # the fsync: off the loop
                else:
                    # Nothing to sync (synchronous=NORMAL, no checkpoint: see _sqlite_pragmas): it
                    # takes less CPU than the hand-off to a thread would (bench/ab.py measures it).
                    batch.commit()
            except BaseException as exc:
                batch.finish(exc)
                return
            batch.finish(None)
            if not self.durable:
                await self._checkpoint_after_commit()

    async def _checkpoint_after_commit(self) -> None:
        """Copy the WAL back into the database, at most every _CHECKPOINT_SECONDS (relaxed only).

        A checkpoint syncs the WAL and the database even with synchronous=NORMAL, so when commits
        run on the event loop, SQLite's automatic checkpoint (run by the commit that fills the WAL
        past 1,000 pages) is turned off and this one, PASSIVE (it never waits for readers or
        writers), runs in a thread instead, beside the commits that follow.

        SQLite starts a WAL over only when a writer finds it wholly copied back, which a checkpoint
        running beside a steady stream of commits never leaves it: the WAL then grew by everything
        written for as long as the load lasted (397 MB over bench/stages.py's 16,000 requests). So
        once the WAL is longer than _WAL_RESTART_PAGES, the checkpoint runs here instead, in the
        committer's turn: it holds the write funnel, and no batch is open, so it copies every frame
        and the next commit writes the WAL from its start. It is still PASSIVE: it waits for no one
        (a reader's snapshot only leaves the WAL long until the next try); writers wait for the
        length of the copy, and join the next group commit.
        """
        now = time.monotonic()
        if (self._checkpoint is not None and not self._checkpoint.done()) or now < self._checkpoint_due:
            return
        self._checkpoint_due = now + _CHECKPOINT_SECONDS
        if self._wal_pages <= _WAL_RESTART_PAGES:
            self._checkpoint = asyncio.get_running_loop().create_task(self._checkpoint_beside())
            self._checkpoint.add_done_callback(_log_checkpoint_failure)
            return
        try:
            wal, copied = await asyncio.to_thread(self._checkpoint_sync)
        except Exception as exc:
            logger.warning("WAL checkpoint failed (the next commit retries): %s", exc)
            return
        self._wal_pages = 0 if copied >= wal else wal

    async def _checkpoint_beside(self) -> None:
        self._wal_pages = (await asyncio.to_thread(self._checkpoint_sync))[0]

    def _checkpoint_sync(self) -> tuple[int, int]:
        """A PASSIVE checkpoint: the WAL's length and how much of it is now copied, in pages."""
        with self.sync_engine.connect() as conn:
            row = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").first()
        if row is None or row[1] is None or row[1] < 0:
            return 0, 0
        return int(row[1]), int(row[2])

    async def rows(self, statement: Prepared, parameters: Mapping[str, Any]) -> list[Sequence[Any]]:
        """A hot read outside any transaction. On SQLite it runs on one connection kept for it
        (reads run inline on the loop, one at a time), fetching every row so that no statement
        stays open holding an old snapshot."""
        if self.async_engine is not None:
            async with self.read() as conn:
                return await conn.rows(statement, parameters)
        if self._reader is None:
            self._reader = self.sync_engine.raw_connection()
        return _raw_rows(self._reader.dbapi_connection, self.sync_engine.dialect, statement, parameters)

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
            if self._checkpoint is not None:
                with contextlib.suppress(Exception):
                    await self._checkpoint
            if self._reader is not None:
                self._reader.close()  # back to the pool, which dispose() then closes
                self._reader = None
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            self.sync_engine.dispose()
            self._writer_lock.close()


class _WriteBlock:
    """One block of the SQLite write funnel (see :meth:`Database.write`): under the write lock,
    a savepoint in the open batch; after it, the batch's commit waited for. A class rather than
    an ``asynccontextmanager``: the generator's machinery cost each write about 1 µs."""

    __slots__ = ("db", "batch")

    def __init__(self, db: Database) -> None:
        self.db = db
        self.batch: _Batch | None = None

    async def __aenter__(self) -> CatalogConnection:
        lock = self.db._write_lock
        assert lock is not None
        await lock.acquire()
        try:
            batch = self.batch = await self.db._enter_batch()
            # Raw savepoints: blocks run one at a time under the lock, so one name serves all.
            batch.raw.execute("SAVEPOINT w")
        except BaseException:
            lock.release()
            raise
        return batch.inline

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        batch, lock = self.batch, self.db._write_lock
        assert batch is not None and lock is not None
        try:
            if exc_type is not None:
                batch.raw.execute("ROLLBACK TO w")
                batch.raw.execute("RELEASE w")
                return
            batch.raw.execute("RELEASE w")
            waiter = batch.wait()
        finally:
            lock.release()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.cancelled():  # this task was cancelled: its change may commit all the same
                with contextlib.suppress(Exception):
                    await batch.wait()
            raise


class _Batch:
    """One open SQLite transaction shared by the write blocks of one group commit."""

    def __init__(self, conn: Connection, transaction: Transaction, lock: WriterLock) -> None:
        self.conn = conn
        self.transaction = transaction
        self.lock = lock
        self.inline = _Inline(self.conn)
        self.raw = self.inline.raw
        # One future per waiting block, not one shared future behind asyncio.shield: a shield
        # costs each waiter two callbacks and an extra turn of the event loop, and a cancelled
        # waiter cancels only its own future.
        self.waiters: list[asyncio.Future[None]] = []
        self.finished = False
        self.failure: BaseException | None = None

    def wait(self) -> asyncio.Future[None]:
        """A future of this batch's commit: its result, or the exception it raised."""
        waiter = asyncio.get_running_loop().create_future()
        if not self.finished:
            self.waiters.append(waiter)
        elif self.failure is not None:
            _fail(waiter, self.failure)
        else:
            waiter.set_result(None)
        return waiter

    def finish(self, failure: BaseException | None) -> None:
        self.finished, self.failure = True, failure
        for waiter in self.waiters:
            if waiter.done():
                continue
            if failure is not None:
                _fail(waiter, failure)
            else:
                waiter.set_result(None)
        self.waiters.clear()

    @classmethod
    async def open(cls, conn: Connection, lock: WriterLock) -> _Batch:
        """Begin the transaction on ``conn`` (the funnel's own connection, held for the life of
        the process: a pool checkout and return per batch cost more than the batch's BEGIN and
        COMMIT), taking the writer lock and then SQLite's.

        Both are free unless another process (a ``serve --workers`` sibling, a ``migrate``) is
        writing, and then taking them means waiting for that commit, fsync included: the first try
        never waits, and only a busy lock is waited for in a thread, so the event loop never blocks.
        """
        if not lock.try_acquire():
            await _in_thread(lock.acquire)
        try:
            transaction = conn.begin()
            try:
                raw: sqlite3.Connection = conn.connection.dbapi_connection  # type: ignore[assignment]
                # The driver is in autocommit mode (see _sqlite_pragmas): without this BEGIN, the
                # first SAVEPOINT would open the transaction and its RELEASE would commit it. The
                # funnel's connection never waits inline (busy_timeout 0, set once by write()).
                try:
                    raw.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                        raise
                    await _in_thread(_begin_waiting, raw)
            except BaseException:
                transaction.rollback()
                raise
        except BaseException:
            lock.release()
            raise
        return cls(conn, transaction, lock)

    def commit(self) -> None:
        try:
            self.transaction.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                self.transaction.rollback()
            raise
        finally:
            self.lock.release()


def _fail(waiter: asyncio.Future[None], failure: BaseException) -> None:
    waiter.set_exception(failure)
    # Retrieved here, so that a waiter cancelled before it looks (it raises CancelledError
    # instead) does not log "exception was never retrieved"; awaiting it still raises.
    waiter.exception()


def _begin_waiting(raw: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE waiting up to _BUSY_TIMEOUT_MS for another process's write (blocking)."""
    raw.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    try:
        raw.execute("BEGIN IMMEDIATE")
    finally:
        raw.execute("PRAGMA busy_timeout=0")


async def _in_thread(fn: Callable[..., object], *args: object) -> None:
    """``fn(*args)`` in a worker thread, waited for to the end even if the caller is cancelled
    (what it holds, a connection or a lock, is the thread's until it returns)."""
    call = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        await asyncio.shield(call)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await call
        raise


def _upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def _log_checkpoint_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.warning("WAL checkpoint failed (the next commit retries): %s", exc)


def _sqlite_pragmas(dbapi_conn: Any, synchronous: str, durable: bool) -> None:
    # sqlite3's implicit transactions would turn savepoints into commits; transactions are begun
    # explicitly by the write funnel instead, and reads run in autocommit.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the writer; FULL syncs each commit so an acknowledged upload
    # survives power loss, not just a process crash (NORMAL, when relaxed, only the latter).
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA synchronous={synchronous}")
    if not durable:
        cur.execute("PRAGMA wal_autocheckpoint=0")  # Database._start_checkpoint does it, in a thread
    cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
