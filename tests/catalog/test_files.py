from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update

from gateway.catalog import files
from gateway.catalog.db import Database
from gateway.catalog.models import events, files as files_table, folder_counts
from gateway.catalog.records import NewEvent, NewFile

pytestmark = pytest.mark.anyio


def _new(name: str, size: int = 1, folder: str = "inbox", put: int = 1_000_000, key: str = "") -> NewFile:
    return NewFile(
        vfs="v",
        folder=folder,
        name=name,
        storage="default",
        storage_key=key or f"objects/00/{name}",
        size=size,
        sha256="0" * 64,
        datatype="text/plain",
        put_date=put,
        expiry_date=None,
        actor="A",
        uploaded_by="alice",
    )


def _event(kind: str = "upload") -> NewEvent:
    return NewEvent(type=kind, time=1, actor="A", user="alice", vfs="v", path="/inbox/x")


async def _event_count(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(events))).scalar_one())


async def test_put_file_new_path_inserts_row_metadata_and_event(db: Database) -> None:
    record, replaced = await files.put_file(db, _new("a.txt"), {"K": "v"}, _event())
    assert replaced == []
    assert await files.get_file(db, "v", "inbox", "a.txt") == record
    assert await files.get_metadata(db, record.fileset) == {"K": "v"}
    async with db.read() as conn:
        row = (await conn.execute(select(events.c.fileset, events.c.type))).one()
    assert tuple(row) == (record.fileset, "upload")


async def test_insert_event_returns_the_new_rows_id(db: Database) -> None:
    """Ids come from the driver (SQLite's lastrowid, PostgreSQL's RETURNING), not a second query."""
    async with db.write() as conn:
        ids = [await files.insert_event(conn, _event(kind)) for kind in ("upload", "download", "delete")]
    async with db.read() as conn:
        rows = (await conn.execute(select(events.c.id, events.c.type).order_by(events.c.id))).all()
    assert [tuple(r) for r in rows] == list(zip(ids, ["upload", "download", "delete"], strict=True))
    assert ids == sorted(set(ids))


async def test_put_file_existing_name_replaces_with_new_fileset(db: Database) -> None:
    first, _ = await files.put_file(db, _new("a.txt", key="objects/00/one"), {"K": "old"}, _event())
    second, replaced = await files.put_file(db, _new("a.txt", key="objects/00/two"), {}, _event())
    assert second.fileset != first.fileset
    assert [r.storage_key for r in replaced] == ["objects/00/one"]
    assert await files.get_metadata(db, second.fileset) == {}
    assert await files.get_metadata(db, first.fileset) == {}  # the old file's metadata went with it


async def test_put_file_fileset_ids_never_reused_after_delete(db: Database) -> None:
    record, _ = await files.put_file(db, _new("a.txt"), {}, _event())
    assert await files.delete_file(db, record, _event("delete"))
    again, _ = await files.put_file(db, _new("a.txt"), {}, _event())
    assert again.fileset > record.fileset


async def test_put_file_concurrent_same_name_leaves_exactly_one(db: Database) -> None:
    results = await asyncio.gather(
        *(files.put_file(db, _new("same", key=f"objects/00/{i}"), {}, _event()) for i in range(8))
    )
    survivor = await files.get_file(db, "v", "inbox", "same")
    assert survivor is not None
    replaced_keys = {r.storage_key for _, rs in results for r in rs}
    all_keys = {f"objects/00/{i}" for i in range(8)}
    # every loser's object is reported for removal, and the survivor's is not
    assert replaced_keys == all_keys - {survivor.storage_key}
    assert await files.count_files(db, "v", "inbox", "*") == 1


async def test_delete_file_already_gone_returns_false_without_event(db: Database) -> None:
    record, _ = await files.put_file(db, _new("a.txt"), {}, _event())
    assert await files.delete_file(db, record, _event("delete"))
    before = await _event_count(db)
    assert not await files.delete_file(db, record, _event("delete"))
    assert await _event_count(db) == before


async def test_update_metadata_upserts_user_keys_and_system_columns(db: Database) -> None:
    record, _ = await files.put_file(db, _new("a.txt"), {"A": "1", "B": "2"}, _event())
    assert await files.update_metadata(
        db, record.fileset, {"description": "d"}, {"B": "3", "C": "4"}, _event("metadata")
    )
    assert await files.get_metadata(db, record.fileset) == {"A": "1", "B": "3", "C": "4"}
    updated = await files.get_file(db, "v", "inbox", "a.txt")
    assert updated is not None and updated.description == "d"
    assert updated.last_modified_time == record.last_modified_time  # metadata is not content


async def test_update_metadata_missing_file_returns_false(db: Database) -> None:
    assert not await files.update_metadata(db, 999_999, {}, {"A": "1"}, _event("metadata"))


async def test_record_download_first_read_sets_date_and_retention(db: Database) -> None:
    record, _ = await files.put_file(db, _new("a.txt"), {}, _event())
    await files.record_download(db, record, 5_000, 100, _event("download"))
    read = await files.get_file(db, "v", "inbox", "a.txt")
    assert read is not None
    assert (read.first_read_date, read.last_access_time, read.expiry_date) == (5_000, 5_000, 5_100)
    await files.record_download(db, read, 9_000, 100, _event("download"))
    again = await files.get_file(db, "v", "inbox", "a.txt")
    assert again is not None
    assert (again.first_read_date, again.last_access_time, again.expiry_date) == (5_000, 9_000, 5_100)


async def test_record_download_first_read_keeps_an_expiry_it_does_not_move(db: Database) -> None:
    """The first read writes the expiry only when the retention moves it: an expiry that changed
    since the caller read the row (an operator's attribute change, say) is not put back."""
    kept, _ = await files.put_file(db, dataclasses.replace(_new("kept"), expiry_date=7_000), {}, _event())
    await files.record_download(db, kept, 5_000, None, _event("download"))
    sooner, _ = await files.put_file(db, dataclasses.replace(_new("sooner"), expiry_date=7_000), {}, _event())
    await files.record_download(db, sooner, 5_000, 100, _event("download"))
    moved, _ = await files.put_file(db, _new("moved"), {}, _event())
    async with db.write() as conn:
        await conn.execute(update(files_table).where(files_table.c.id == moved.fileset).values(expiry_date=8_000))
    await files.record_download(db, moved, 5_000, None, _event("download"))  # ``moved`` still says None
    found = {n: await files.get_file(db, "v", "inbox", n) for n in ("kept", "sooner", "moved")}
    assert {n: (r.first_read_date, r.expiry_date) for n, r in found.items() if r} == {
        "kept": (5_000, 7_000),
        "sooner": (5_000, 5_100),
        "moved": (5_000, 8_000),
    }


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*", ["A.txt", "a%b", "a.txt", "a_b", "ab", "inv-1.xlsx", "inv-2.csv"]),
        ("inv*", ["inv-1.xlsx", "inv-2.csv"]),
        ("*.txt", ["A.txt", "a.txt"]),
        ("a.txt", ["a.txt"]),  # case-sensitive
        ("a_b", ["a_b"]),  # "_" is literal, not a one-character wildcard
        ("a%b", ["a%b"]),  # "%" is literal
        ("a?", []),  # "?" is literal
        ("*[*", []),
    ],
)
async def test_list_files_filter_star_only_wildcard(db: Database, pattern: str, expected: list[str]) -> None:
    for name in ["a.txt", "A.txt", "a_b", "a%b", "ab", "inv-1.xlsx", "inv-2.csv"]:
        await files.put_file(db, _new(name), {}, _event())
    listed = await files.list_files(db, "v", "inbox", pattern, "name", False, 0, 100)
    assert [r.name for r in listed] == expected
    assert await files.count_files(db, "v", "inbox", pattern) == len(expected)


async def test_list_files_sort_keys_and_paging(db: Database) -> None:
    for i, (name, size) in enumerate([("c", 30), ("a", 10), ("b", 20)]):
        await files.put_file(db, _new(name, size=size, put=1_000 + i), {}, _event())
    b = await files.get_file(db, "v", "inbox", "b")
    assert b is not None
    await files.record_download(db, b, 50_000, None, _event("download"))

    async def names(sort: files.SortKey, desc: bool, offset: int = 0, limit: int = 10) -> list[str]:
        return [r.name for r in await files.list_files(db, "v", "inbox", "*", sort, desc, offset, limit)]

    assert await names("name", False) == ["a", "b", "c"]
    assert await names("size", True) == ["c", "b", "a"]
    assert await names("put_date", False) == ["c", "a", "b"]
    assert await names("read_date", False) == ["b", "a", "c"]  # unread files sort as latest
    assert await names("read_date", True) == ["c", "a", "b"]
    assert await names("name", False, offset=1, limit=1) == ["b"]


async def test_list_files_other_folder_not_included(db: Database) -> None:
    await files.put_file(db, _new("x", folder="inbox"), {}, _event())
    await files.put_file(db, _new("x", folder="inbox/archive"), {}, _event())
    assert [r.folder for r in await files.list_files(db, "v", "inbox/archive", "*", "name", False, 0, 10)] == [
        "inbox/archive"
    ]


async def test_migrate_twice_is_idempotent(db: Database) -> None:
    await db.migrate()
    record, _ = await files.put_file(db, dataclasses.replace(_new("z")), {}, _event())
    assert record.fileset > 0


async def test_hot_reads_see_other_writers_commits_at_once(db: Database, catalog_url: str) -> None:
    """Hot reads share one long-lived connection on SQLite: a statement left open there would pin
    an old WAL snapshot, and this process would stop seeing what other peers commit."""
    record, _ = await files.put_file(db, _new("a.txt"), {"k": "v"}, _event())
    assert await files.get_file(db, "v", "inbox", "a.txt") == record
    assert await files.get_metadata(db, record.fileset) == {"k": "v"}
    other = Database(catalog_url)  # another peer on the same catalog
    try:
        replaced, _ = await files.put_file(other, _new("a.txt", size=7), {}, _event())
        seen = await files.get_file(db, "v", "inbox", "a.txt")
        assert seen is not None and seen.fileset == replaced.fileset and seen.size == 7
        assert await files.get_metadata(db, record.fileset) == {}
        assert await files.delete_file(other, replaced, _event("delete"))
        assert await files.get_file(db, "v", "inbox", "a.txt") is None
        assert await files.get_by_id(db, replaced.fileset) is None
    finally:
        await other.dispose()


async def test_event_of_put_file_carries_the_new_fileset_and_metadata(db: Database) -> None:
    record, _ = await files.put_file(db, _new("b.txt"), {"x": "1"}, dataclasses.replace(_event(), metadata={"x": "1"}))
    async with db.read() as conn:
        row = (await conn.execute(select(events).where(events.c.fileset == record.fileset))).one()
    assert (row.type, row.user_name, row.metadata, row.chain) == ("upload", "alice", '{"x": "1"}', "[]")


async def _counts(db: Database) -> dict[tuple[str, str], int]:
    async with db.read() as conn:
        rows = (await conn.execute(select(folder_counts))).all()
    return {(r.vfs, r.folder): r.files for r in rows if r.files}


async def _scanned(db: Database) -> dict[tuple[str, str], int]:
    vfs, folder = files_table.c.vfs, files_table.c.folder
    query = select(vfs, folder, func.count()).group_by(vfs, folder)
    async with db.read() as conn:
        rows: list[Any] = list((await conn.execute(query)).all())
    return {(str(row[0]), str(row[1])): int(row[2]) for row in rows}


async def test_folder_counts_follow_every_insert_replace_delete_and_move(db: Database) -> None:
    """countelements and every listing's total read the counter row; triggers keep it exact,
    whatever writes the files table (the gateway, a route, expiry, or rows inserted directly)."""
    a, _ = await files.put_file(db, _new("a"), {}, _event())
    await files.put_file(db, _new("b"), {}, _event())
    await files.put_file(db, _new("a", size=5), {}, _event())  # a replacement: still two files
    await files.put_file(db, _new("c", folder="outbox"), {}, _event())
    assert await files.count_files(db, "v", "inbox", "*") == 2
    assert await files.count_files(db, "v", "inbox", "") == 2
    assert await files.count_files(db, "v", "outbox", "*") == 1
    assert await files.count_files(db, "v", "nowhere", "*") == 0
    assert await files.count_files(db, "v", "inbox", "a*") == 1  # a name filter still scans
    b = await files.get_file(db, "v", "inbox", "b")
    assert b is not None and await files.delete_file(db, b, _event("delete"))
    async with db.write() as conn:  # rows written without the gateway's functions, as the bench does
        await conn.execute(insert(files_table), [dataclasses.asdict(_new(f"x{i}", folder="bulk")) | {
            "creation_time": 1, "last_modified_time": 1} for i in range(30)])  # fmt: skip
        await conn.execute(update(files_table).where(files_table.c.name == "x0").values(folder="outbox"))
        await conn.execute(delete(files_table).where(files_table.c.name == "x1"))
    assert await _counts(db) == await _scanned(db) == {("v", "inbox"): 1, ("v", "outbox"): 2, ("v", "bulk"): 28}
    assert a.fileset  # the first version was replaced, not counted twice


async def test_failed_write_leaves_counts_unchanged(db: Database) -> None:
    await files.put_file(db, _new("a"), {}, _event())
    with pytest.raises(RuntimeError):
        async with db.write() as conn:
            await conn.execute(insert(files_table), [dataclasses.asdict(_new("b")) | {
                "creation_time": 1, "last_modified_time": 1}])  # fmt: skip
            raise RuntimeError("the block fails after its insert")
    assert await files.count_files(db, "v", "inbox", "*") == 1
    assert await _counts(db) == await _scanned(db)


def _alembic(conn: Any, action: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from gateway.catalog import db as catalog_db

    config = Config()
    config.set_main_option("script_location", str(catalog_db._MIGRATIONS))
    config.attributes["connection"] = conn
    getattr(command, action)(config, revision)


async def _run_alembic(db: Database, action: str, revision: str) -> None:
    if db.async_engine is not None:
        async with db.async_engine.begin() as conn:
            await conn.run_sync(_alembic, action, revision)
    else:
        with db.sync_engine.begin() as sync_conn:
            _alembic(sync_conn, action, revision)


async def test_folder_counts_migration_counts_existing_files_and_downgrades(db: Database) -> None:
    await files.put_file(db, _new("a"), {}, _event())
    await _run_alembic(db, "downgrade", "0004")
    for name in ("b", "c"):  # written while no trigger counts them
        await files.put_file(db, _new(name, folder="outbox"), {}, _event())
    await _run_alembic(db, "upgrade", "head")
    assert await _counts(db) == await _scanned(db) == {("v", "inbox"): 1, ("v", "outbox"): 2}
    await files.put_file(db, _new("d", folder="outbox"), {}, _event())
    assert await files.count_files(db, "v", "outbox", "*") == 3
