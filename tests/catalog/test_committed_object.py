"""Whether a failed or cancelled file write committed, told by the ids it inserted (migration 0012
drops the storage-key index that used to answer it), and what ``commit_file`` then does with
the stored object. SQLite and PostgreSQL; real objects in a local storage root."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
import sqlalchemy as sa
from sqlalchemy import update

from gateway.catalog import files
from gateway.catalog.db import Database
from gateway.catalog.models import files as files_table
from gateway.catalog.records import NewEvent, NewFile
from gateway.core.files import commit_file
from gateway.core.runtime import Runtime
from gateway.storage.local import LocalBackend
from tests.catalog.test_files import _event, _new, _run_alembic

pytestmark = pytest.mark.anyio


class _Unserialisable:
    """Event metadata the event insert cannot encode: the write block fails after its file row."""


def _failing_event() -> NewEvent:
    return dataclasses.replace(_event(), metadata={"k": _Unserialisable()})  # type: ignore[dict-item]


async def test_holds_is_true_only_for_a_committed_row_naming_the_object(db: Database) -> None:
    inserted: list[int] = []
    record, _ = await files.put_file(db, _new("a.txt", key="objects/00/aa"), {}, _event(), inserted)
    assert inserted == [record.fileset]
    assert await files.holds(db, inserted, "default", "objects/00/aa")
    assert not await files.holds(db, inserted, "default", "objects/00/other")
    assert not await files.holds(db, inserted, "elsewhere", "objects/00/aa")
    assert not await files.holds(db, [], "default", "objects/00/aa")
    async with db.write() as conn:  # moved and renamed: same id, same object
        await conn.execute(update(files_table).where(files_table.c.id == record.fileset).values(folder="x", name="b"))
    assert await files.holds(db, inserted, "default", "objects/00/aa")


async def test_a_write_that_failed_after_its_insert_holds_nothing(db: Database) -> None:
    inserted: list[int] = []
    with pytest.raises(TypeError):
        await files.put_file(db, _new("a.txt", key="objects/00/aa"), {}, _failing_event(), inserted)
    assert len(inserted) == 1  # the row was inserted, then rolled back with its block
    assert await files.get_file(db, "v", "inbox", "a.txt") is None
    assert not await files.holds(db, inserted, "default", "objects/00/aa")


async def test_a_caller_cancelled_while_its_commit_is_in_flight_can_tell_it_committed(db: Database) -> None:
    inserted: list[int] = []
    task = asyncio.ensure_future(files.put_file(db, _new("a.txt", key="objects/00/aa"), {}, _event(), inserted))
    for _ in range(1000):  # until the file row is in (on SQLite: the block is done, the commit pending)
        if inserted:
            break
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    committed = await files.get_file(db, "v", "inbox", "a.txt") is not None
    assert await files.holds(db, inserted, "default", "objects/00/aa") == committed
    if db.is_sqlite:
        assert committed  # the write funnel finishes a commit its caller stopped waiting for


async def _stored(backend: LocalBackend) -> str:
    writer = await backend.open_write()
    await writer.write(b"payload")
    return (await writer.commit()).key


def _runtime(db: Database) -> Runtime:
    return cast(Runtime, SimpleNamespace(db=db))  # commit_file uses the catalog only


def _new_for(key: str) -> NewFile:
    return dataclasses.replace(_new("a.txt"), storage="local", storage_key=key)


async def test_commit_file_keeps_the_object_of_a_committed_write(db: Database, tmp_path: Path) -> None:
    backend = LocalBackend("local", tmp_path)
    key = await _stored(backend)
    record, replaced = await commit_file(_runtime(db), backend, _new_for(key), {}, _event())
    assert (record.storage_key, replaced) == (key, [])
    assert (tmp_path / key).read_bytes() == b"payload"


async def test_commit_file_removes_the_object_of_a_failed_write(db: Database, tmp_path: Path) -> None:
    backend = LocalBackend("local", tmp_path)
    key = await _stored(backend)
    with pytest.raises(TypeError):
        await commit_file(_runtime(db), backend, _new_for(key), {}, _failing_event())
    assert not (tmp_path / key).exists()
    assert await files.get_file(db, "v", "inbox", "a.txt") is None


async def _index_names(db: Database) -> set[str]:
    if db.async_engine is not None:
        query = sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'files'")
        async with db.async_engine.connect() as conn:
            return {r[0] for r in await conn.execute(query)}
    with db.sync_engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.text("SELECT name FROM sqlite_master WHERE tbl_name = 'files'"))}


async def test_the_storage_key_index_is_gone_and_migrates_both_ways(db: Database) -> None:
    now = await _index_names(db)
    assert "ix_files_storage_key" not in now
    await _run_alembic(db, "downgrade", "0011")
    assert await _index_names(db) == now | {"ix_files_storage_key"}
    await _run_alembic(db, "upgrade", "head")
    assert await _index_names(db) == now
