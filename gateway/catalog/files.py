"""File rows, their metadata and their events: every change commits with its event.

Each function is one transaction. A replaced or deleted file's storage object is *returned*,
not removed: the caller deletes bytes only after the catalog commit, so a crash can leave an
unreferenced object (garbage) but never a row pointing at missing bytes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import Any, Literal

from sqlalchemy import BindParameter, ColumnElement, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.catalog.db import CatalogConnection, Database, Prepared
from gateway.catalog.models import events, file_metadata, files, folder_counts, runs as runs_table
from gateway.catalog.records import FileRecord, NewEvent, NewFile

SortKey = Literal["name", "size", "put_date", "read_date", "expiry_date"]
_SORT_COLUMNS = {
    "name": files.c.name,
    "size": files.c.size,
    "put_date": files.c.put_date,
    "read_date": files.c.first_read_date,
    "expiry_date": files.c.expiry_date,
}
_PUT_RETRIES = 8


# Hot statements are built once: constructing a statement costs several times executing it.
_BY_PATH = Prepared(
    select(files).where(
        files.c.vfs == bindparam("b_vfs"), files.c.folder == bindparam("b_folder"), files.c.name == bindparam("b_name")
    )
)
_BY_ID = Prepared(select(files).where(files.c.id == bindparam("b_id")))
_METADATA = Prepared(
    select(file_metadata.c.key, file_metadata.c.value)
    .where(file_metadata.c.file_id == bindparam("b_id"))
    .order_by(file_metadata.c.key)
)
_EVENT_COLUMNS = [c.key for c in events.c if c.key != "id"]
_INSERT_EVENT = Prepared(insert(events), _EVENT_COLUMNS)
_NEW_FILE_FIELDS = [f.name for f in dataclasses.fields(NewFile)]
_new_file_values = attrgetter(*_NEW_FILE_FIELDS)  # all of them in one C call
_FILE_COLUMNS = [c.key for c in files.c if c.key not in ("id", "first_read_date", "last_access_time")]
_INSERT_FILE = Prepared(insert(files), _FILE_COLUMNS)
_INSERT_METADATA = Prepared(insert(file_metadata), ["file_id", "key", "value"])
_FOLDER_COUNT = Prepared(
    select(folder_counts.c.files).where(
        folder_counts.c.vfs == bindparam("b_vfs"), folder_counts.c.folder == bindparam("b_folder")
    )
)
_TOUCH = Prepared(update(files).where(files.c.id == bindparam("b_id")).values(last_access_time=bindparam("b_now")))
_FIRST_READ = Prepared(
    update(files)
    .where(files.c.id == bindparam("b_id"))
    .values(last_access_time=bindparam("b_now"), first_read_date=bindparam("b_now"))
)
# Only when the retention moves the expiry: an UPDATE naming expiry_date rewrites that column's
# two index entries even for the same value (SQLite decides per statement, not per value).
_FIRST_READ_EXPIRY = Prepared(
    update(files)
    .where(files.c.id == bindparam("b_id"))
    .values(last_access_time=bindparam("b_now"), first_read_date=bindparam("b_now"), expiry_date=bindparam("b_exp"))
)


def _path_params(vfs: str, folder: str, name: str) -> dict[str, str]:
    return {"b_vfs": vfs, "b_folder": folder, "b_name": name}


def _record(row: Sequence[Any]) -> FileRecord:
    return FileRecord(*row)


def _at(vfs: str, folder: str, name: str) -> ColumnElement[bool]:
    return and_(files.c.vfs == vfs, files.c.folder == folder, files.c.name == name)


async def get_file(db: Database, vfs: str, folder: str, name: str) -> FileRecord | None:
    rows = await db.rows(_BY_PATH, _path_params(vfs, folder, name))
    return _record(rows[0]) if rows else None


async def get_by_id(db: Database, fileset: int) -> FileRecord | None:
    rows = await db.rows(_BY_ID, {"b_id": fileset})
    return _record(rows[0]) if rows else None


async def due_for_expiry(db: Database, now: int, limit: int) -> list[FileRecord]:
    """Files whose retention has run out, oldest expiry first."""
    query = (
        select(files)
        .where(files.c.expiry_date.is_not(None), files.c.expiry_date <= now)
        .order_by(files.c.expiry_date)
        .limit(limit)
    )
    async with db.read() as conn:
        return [_record(r) for r in await conn.execute(query)]


async def holds(db: Database, inserted: Sequence[int], storage: str, key: str) -> bool:
    """Whether one of the rows :func:`put_file` inserted (its ``inserted`` list) is committed and
    names this object: asked when a write's outcome is unknown.

    By primary key: an id is never reused (AUTOINCREMENT, a sequence) and a row keeps its id and
    its object through a move or an attribute change, so the answer is exact, and no index on
    the storage key is needed for it (one cost every upload a B-tree entry on a random page).
    """
    if not inserted:
        return False
    query = select(files.c.id).where(files.c.id.in_(list(inserted)), files.c.storage == storage,
                                     files.c.storage_key == key).limit(1)  # fmt: skip
    async with db.read() as conn:
        return (await conn.execute(query)).first() is not None


def vfs_path(record: FileRecord) -> str:
    """The file's path inside its VFS, as events show it (``/inbox/a.txt``)."""
    return f"/{record.folder}/{record.name}" if record.folder else f"/{record.name}"


async def get_metadata(db: Database, fileset: int) -> dict[str, str]:
    return {key: value for key, value in await db.rows(_METADATA, {"b_id": fileset})}


async def insert_event(
    conn: CatalogConnection, event: NewEvent, now: int | None = None, fileset: int | None = None
) -> int:
    """Insert an event and the runs it queues (in the caller's transaction); returns its id.

    ``fileset``, when given, stands in for ``event.fileset`` (a new file's id is known only here).
    """
    if fileset is None:
        fileset = event.fileset
    values = {
        "type": event.type,
        "time": event.time,
        "actor": event.actor,
        "user_name": event.user,
        "protocol": event.protocol,
        "contract": event.contract,
        "vfs": event.vfs,
        "path": event.path,
        "fileset": fileset,
        "size": event.size,
        "sha256": event.sha256,
        "client_address": event.client_address,
        "metadata": json.dumps(event.metadata, ensure_ascii=False, sort_keys=True) if event.metadata else "{}",
        "chain": json.dumps(list(event.chain), ensure_ascii=False) if event.chain else "[]",
    }
    event_id = await conn.insert(_INSERT_EVENT, values)
    if event.runs:
        created = event.time if now is None else now
        await conn.execute(
            insert(runs_table),
            [
                {
                    "event_id": event_id,
                    "contract": r.contract,
                    "action": r.action,
                    "kind": r.kind,
                    "status": "Queued",
                    "max_attempts": r.max_attempts,
                    "next_attempt_at": created,
                    "manual": r.manual,
                    "params": json.dumps(r.params, ensure_ascii=False, sort_keys=True),
                    "ordering_key": r.ordering_key,
                    "fileset": fileset,
                    "created_at": created,
                    "task_version": r.task_version,
                    "trigger": r.trigger,
                }
                for r in event.runs
            ],
        )
    return event_id


async def _delete_rows(conn: CatalogConnection, ids: list[int]) -> None:
    if ids:
        await conn.execute(delete(file_metadata).where(file_metadata.c.file_id.in_(ids)))
        await conn.execute(delete(files).where(files.c.id.in_(ids)))


async def put_file(
    db: Database, new: NewFile, metadata: Mapping[str, str], event: NewEvent, inserted: list[int] | None = None
) -> tuple[FileRecord, list[FileRecord]]:
    """Insert ``new`` (replacing any file at the same path), its metadata and its event.

    Returns the new record and the replaced ones, whose storage objects the caller removes after
    this commit. Concurrent uploads to one name serialise on the unique path index: a loser of
    the race retries, replaces the winner, and the last commit is the one version that remains.
    ``inserted`` receives the id of every row inserted, committed or not: if this raises, even
    after a cancellation that came while the commit was in flight, :func:`holds` tells from them
    whether the file was committed.
    """
    values = dict(zip(_NEW_FILE_FIELDS, _new_file_values(new), strict=True))
    values.update(creation_time=new.put_date, last_modified_time=new.put_date)
    for attempt in range(_PUT_RETRIES):
        try:
            async with db.write() as conn:
                old_rows = await conn.rows(_BY_PATH, _path_params(new.vfs, new.folder, new.name))
                replaced = [_record(r) for r in old_rows]
                await _delete_rows(conn, [r.fileset for r in replaced])
                fileset = await conn.insert(_INSERT_FILE, values)
                if inserted is not None:
                    inserted.append(fileset)
                record = FileRecord(fileset=fileset, first_read_date=None, last_access_time=None, **values)
                for k, v in metadata.items():
                    await conn.run(_INSERT_METADATA, {"file_id": record.fileset, "key": k, "value": v})
                await insert_event(conn, event, fileset=record.fileset)
            return record, replaced
        except IntegrityError:
            if attempt == _PUT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def delete_file(db: Database, record: FileRecord, event: NewEvent) -> bool:
    """Delete the row of ``record`` (by fileset, so a concurrent replacement is never removed).

    Returns False when the row was already gone.
    """
    async with db.write() as conn:
        await conn.execute(delete(file_metadata).where(file_metadata.c.file_id == record.fileset))
        result = await conn.execute(delete(files).where(files.c.id == record.fileset))
        if result.rowcount == 0:
            return False
        await insert_event(conn, event)
    return True


async def update_metadata(
    db: Database, fileset: int, system: Mapping[str, str], user: Mapping[str, str], event: NewEvent
) -> bool:
    """Upsert user keys and set system attributes (column name → value). False if the file is gone.

    The file's content times are left alone: metadata is not content.
    """
    async with db.write() as conn:
        if system:
            found = (await conn.execute(update(files).where(files.c.id == fileset).values(**system))).rowcount
        else:
            found = len((await conn.execute(select(files.c.id).where(files.c.id == fileset))).all())
        if not found:
            return False
        if user:
            await conn.execute(
                delete(file_metadata).where(file_metadata.c.file_id == fileset, file_metadata.c.key.in_(list(user)))
            )
            await conn.execute(
                insert(file_metadata), [{"file_id": fileset, "key": k, "value": v} for k, v in user.items()]
            )
        await insert_event(conn, event)
    return True


async def record_download(
    db: Database, record: FileRecord, now: int, expiry_after_read: int | None, event: NewEvent
) -> None:
    """Set lastAccessTime (and firstReadDate plus its retention expiry on the first read)."""
    params: dict[str, int | None] = {"b_id": record.fileset, "b_now": now}
    statement = _TOUCH
    if record.first_read_date is None:
        expiry = record.expiry_date
        if expiry_after_read is not None:
            expiry = now + expiry_after_read if expiry is None else min(now + expiry_after_read, expiry)
        if expiry == record.expiry_date:
            statement = _FIRST_READ
        else:
            statement, params = _FIRST_READ_EXPIRY, {**params, "b_exp": expiry}
    async with db.write() as conn:
        await conn.run(statement, params)
        await insert_event(conn, event)


def _name_pattern(db: Database, pattern: str) -> str | None:
    """The filter as SQL wants it (GLOB on SQLite, LIKE elsewhere), or None when it matches all.

    ``*`` matches any run of characters; every other character is literal and case-sensitive.
    """
    if pattern in ("", "*"):
        return None
    if db.is_sqlite:
        return "".join({"[": "[[]", "?": "[?]"}.get(c, c) for c in pattern)
    return "".join({"\\": "\\\\", "%": "\\%", "_": "\\_", "*": "%"}.get(c, c) for c in pattern)


def _where(sqlite: bool, filtered: bool) -> list[ColumnElement[bool]]:
    clauses = [files.c.vfs == bindparam("b_vfs"), files.c.folder == bindparam("b_folder")]
    if filtered:
        name: BindParameter[str] = bindparam("b_pattern")
        clauses.append(files.c.name.op("GLOB")(name) if sqlite else files.c.name.like(name, escape="\\"))
    return clauses


@functools.lru_cache(maxsize=64)
def _page_statement(sqlite: bool, sort: SortKey, descending: bool, filtered: bool) -> Prepared:
    column = _SORT_COLUMNS[sort]
    keys: list[ColumnElement[Any]] = [column]
    if sort in ("read_date", "expiry_date") and sqlite:
        # Files without the date sort as the largest value (last when ascending). PostgreSQL
        # does that by default; SQLite needs the null flag first, matching its index (0004).
        keys.insert(0, column.is_(None))
    if sort != "name":
        keys.append(files.c.name)
    order = [k.desc() if descending else k.asc() for k in keys]
    query = select(files).where(*_where(sqlite, filtered)).order_by(*order)
    return Prepared(query.offset(bindparam("b_offset")).limit(bindparam("b_limit")))


@functools.lru_cache(maxsize=4)
def _filtered_count(sqlite: bool) -> Prepared:
    return Prepared(select(func.count()).select_from(files).where(*_where(sqlite, True)))


async def list_files(
    db: Database,
    vfs: str,
    folder: str,
    pattern: str,
    sort: SortKey,
    descending: bool,
    offset: int,
    limit: int,
) -> list[FileRecord]:
    """One page of a folder's files; index-ordered so a page costs O(limit), not O(folder)."""
    name = _name_pattern(db, pattern)
    statement = _page_statement(db.is_sqlite, sort, descending, name is not None)
    params = {"b_vfs": vfs, "b_folder": folder, "b_pattern": name, "b_offset": offset, "b_limit": limit}
    return [_record(r) for r in await db.rows(statement, params)]


async def count_files(db: Database, vfs: str, folder: str, pattern: str) -> int:
    """A folder's files: its counter row (one lookup) unless a name filter needs a scan."""
    name = _name_pattern(db, pattern)
    if name is None:
        rows = await db.rows(_FOLDER_COUNT, {"b_vfs": vfs, "b_folder": folder})
    else:
        rows = await db.rows(_filtered_count(db.is_sqlite), {"b_vfs": vfs, "b_folder": folder, "b_pattern": name})
    return int(rows[0][0]) if rows else 0
