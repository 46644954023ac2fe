"""File operations of the partner API: the only module composing ACL, VFS, storage, catalog
and events.

Each operation checks, in the API's order: the path names a file (else "No filename
specified"), the caller's permission on the folder, the folder exists, the file exists. Bytes
become visible only through a committed catalog row, and are removed only after the row is.
"""

from __future__ import annotations

import logging
import mimetypes
from typing import Any

from gateway.catalog import files as catalog
from gateway.catalog.records import FileRecord, NewEvent, NewFile
from gateway.config.schema import Permission, Vfs
from gateway.core import agents, mediatypes, metadata as md, transfer_log
from gateway.core.contracts import Access
from gateway.core.paths import RequestPath, VirtualPath, validate_segment
from gateway.core.runtime import Runtime
from gateway.core.timefmt import now_us
from gateway.core.tracked import TrackedReader, TrackedWriter, reason
from gateway.core.uploads import UploadSource
from gateway.errors import InvalidPathError, IoError, NoFilenameError, NotFoundError, RequestSyntaxError
from gateway.frozen import frozen
from gateway.storage.base import ObjectReader, ObjectWriter, StorageBackend, StoredObject

log = logging.getLogger("gateway.files")
_HOUR_US = 3_600_000_000
OCTET_STREAM = "application/octet-stream"


@frozen
class Target:
    path: VirtualPath  # the file's, VFS-absolute
    folder: VirtualPath  # VFS-absolute
    folder_rel: VirtualPath  # as the caller named it (for messages)
    name: str


def _file_target(rt: Runtime, access: Access, req: RequestPath, path: VirtualPath | None = None) -> Target:
    """The file ``req`` names; ``path`` is its VFS-absolute path when the caller has it already."""
    if path is None:
        path = access.absolute(req.path)
    if req.path.is_root or req.trailing_slash or rt.mounts.tree(access.vfs.name).exists(path):
        raise NoFilenameError()
    return Target(path=path, folder=path.parent, folder_rel=req.path.parent, name=req.path.name)


def _require_folder(rt: Runtime, access: Access, folder: VirtualPath, folder_rel: VirtualPath) -> None:
    if not rt.mounts.tree(access.vfs.name).exists(folder):
        raise NotFoundError(f"Path '{folder_rel.text}' doesn't exist")


async def _find(rt: Runtime, access: Access, target: Target) -> FileRecord:
    record = await catalog.get_file(rt.db, access.vfs.name, target.folder.text, target.name)
    if record is None:
        raise NotFoundError(f"File '{target.name}' doesn't exist")
    return record


def _event(
    rt: Runtime, access: Access, type_: str, path: VirtualPath, now: int, metadata: dict[str, str], **fields: object
) -> NewEvent:
    """The event of one change, with the contract-action runs it queues in the same transaction."""
    p = access.principal
    text = str(path)
    return NewEvent(
        type=type_,
        time=now,
        actor=p.actor,
        user=p.user,
        vfs=access.vfs.name,
        path=text,
        protocol=p.protocol,
        contract=access.contract.name,
        client_address=p.client_address,
        metadata=metadata,
        runs=rt.actions.plan(access.vfs.name, text, type_, metadata),
        **fields,  # type: ignore[arg-type]
    )


def _datatype(content_type: str | None, name: str) -> str:
    """The datatype stored for an upload; RequestSyntaxError if the part's type could not be
    sent back in a header (see gateway.core.mediatypes)."""
    content_type = (content_type or "").strip()
    if content_type and not mediatypes.is_media_type(content_type):
        raise RequestSyntaxError("Invalid Content-Type of the file part")
    if content_type and content_type.split(";")[0].strip().lower() != OCTET_STREAM:
        return content_type
    return mimetypes.guess_type(name, strict=False)[0] or OCTET_STREAM


async def upload(
    rt: Runtime, access: Access, req: RequestPath, source: UploadSource, *, to_folder: bool,
    agent_transfer: str | None = None,
) -> FileRecord:  # fmt: skip
    """Receive one file (PUT, or POST when ``to_folder`` allows naming it by the part's filename).

    Raises NoFilenameError, AuthorizationError, NotFoundError (folder), RequestSyntaxError
    (body or metadata), LimitExceededError, QuotaExceededError, IoError. On any failure nothing
    is left behind: no object, no row.
    """
    tree = rt.mounts.tree(access.vfs.name)
    path = access.absolute(req.path)
    name: str | None
    dest: VirtualPath | None  # the file's path, once its name is known
    if to_folder and tree.exists(path):
        folder, folder_rel, name, dest = path, req.path, None, None
    else:
        t = _file_target(rt, access, req, path)
        folder, folder_rel, name, dest = t.folder, t.folder_rel, t.name, t.path
    access.ensure(Permission.UPLOAD, folder)
    _require_folder(rt, access, folder, folder_rel)
    backend = rt.mounts.backend_for(access.vfs.name, folder)
    writer: ObjectWriter | None = None
    tracker: transfer_log.Tracker | None = None

    async def open_writer() -> ObjectWriter:
        nonlocal writer, tracker
        destination = _where(access, dest if dest is not None else folder)
        tracker = await _track(rt, access, "upload", _client(access), destination, agent_transfer)
        writer = TrackedWriter(await backend.open_write(rt.max_file_size(access.vfs.name)), tracker)
        return writer

    try:
        form = await source.receive(open_writer)
        if writer is None or not form.has_file:
            raise RequestSyntaxError()
        if name is None:
            if not form.filename:
                raise NoFilenameError()
            name = validate_segment(form.filename)
            dest = folder.child(name)
        assert dest is not None
        if tree.exists(dest):
            raise NoFilenameError()
        posted = md.validate(md.parse_json_object(form.metadata)) if form.metadata is not None else None
        datatype = _datatype(form.content_type, name)
        stored = await writer.commit()
    except BaseException as exc:
        if writer is not None:
            await writer.abort()
        if tracker is not None:
            tracker.finish("failed", error=reason(exc))
        raise
    assert tracker is not None and dest is not None
    tracker.destination = _where(access, dest)
    now = now_us()
    user_md = dict(posted.user) if posted else {}
    user_md.update(access.contract.metadata)
    attributes = {"datatype": datatype}
    attributes.update(posted.system if posted else {})
    new = new_file(access.vfs, folder, dest.name, backend.name, stored, now, access.principal.user, **attributes)
    event = _event(rt, access, "upload", dest, now, user_md, size=stored.size, sha256=stored.sha256)
    try:
        record, replaced = await commit_file(rt, backend, new, user_md, event)
    except BaseException as exc:
        tracker.finish("failed", error=reason(exc))
        raise
    tracker.finish("completed", size=stored.size, sha256=stored.sha256)
    for old in replaced:
        await _delete_object(rt, old)
    _wake_if(rt, event)
    return record


def _wake_if(rt: Runtime, event: NewEvent) -> None:
    if event.runs:
        rt.wake()


def new_file(
    vfs: Vfs, folder: VirtualPath, name: str, storage: str, stored: StoredObject, now: int, by: str, **attributes: str
) -> NewFile:
    """The catalog row of a file just stored in ``vfs``, its retention clock started now."""
    retention = vfs.retention.after_put_hours
    return NewFile(
        vfs=vfs.name,
        folder=folder.text,
        name=name,
        storage=storage,
        storage_key=stored.key,
        size=stored.size,
        sha256=stored.sha256,
        put_date=now,
        expiry_date=None if retention is None else now + int(retention * _HOUR_US),
        actor=vfs.actor,
        uploaded_by=by,
        **attributes,
    )


async def commit_file(
    rt: Runtime, backend: StorageBackend, new: NewFile, metadata: dict[str, str], event: NewEvent
) -> tuple[FileRecord, list[FileRecord]]:
    """Catalog an object just stored in ``backend`` (``catalog.put_file``: the new record and
    the ones it replaced). If that raises, the object is removed — unless the write did commit
    (a caller cancelled while the commit was in flight cannot tell). When the catalog cannot
    say, the bytes are kept: an orphan object is garbage, a row without its object a lost file."""
    inserted: list[int] = []
    try:
        return await catalog.put_file(rt.db, new, metadata, event, inserted)
    except BaseException:
        try:
            if not await catalog.holds(rt.db, inserted, backend.name, new.storage_key):
                await backend.delete(new.storage_key)
        except Exception:
            log.exception("could not settle object %s after a failed catalog write", new.storage_key)
        raise


async def _delete_object(rt: Runtime, record: FileRecord) -> None:
    try:
        await rt.mounts.backends[record.storage].delete(record.storage_key)
    except Exception:  # the row is gone; leftover bytes are garbage, never a visible file
        log.exception("could not remove object %s of fileset %s", record.storage_key, record.fileset)


async def open_download(
    rt: Runtime, access: Access, req: RequestPath, record_read: bool = True, agent_transfer: str | None = None
) -> tuple[FileRecord, ObjectReader]:
    """Find a file and open its bytes; unless ``record_read`` is False, record the read
    (firstReadDate, lastAccessTime, event)."""
    target = _file_target(rt, access, req)
    access.ensure(Permission.DOWNLOAD, target.folder)
    _require_folder(rt, access, target.folder, target.folder_rel)
    record = await _find(rt, access, target)
    try:
        reader = await rt.mounts.backends[record.storage].open_read(record.storage_key, record.size)
    except InvalidPathError:
        # The key came from the catalog, not the partner: this is storage damage, not a bad request.
        raise IoError(f"Stored object of fileset {record.fileset} is not reachable") from None
    if not record_read:
        return record, reader
    now = now_us()
    after_read = access.vfs.retention.after_first_get_hours
    metadata = await catalog.get_metadata(rt.db, record.fileset) if rt.actions.has_actions(access.vfs.name) else {}
    event = _event(
        rt, access, "download", target.path, now, metadata,
        fileset=record.fileset, size=record.size, sha256=record.sha256,
    )  # fmt: skip
    try:
        await catalog.record_download(
            rt.db, record, now, None if after_read is None else int(after_read * _HOUR_US), event
        )
    except BaseException:
        await reader.close()
        raise
    _wake_if(rt, event)
    tracker = await _track(rt, access, "download", _where(access, target.path),
                           _client(access), agent_transfer, size=record.size, sha256=record.sha256)  # fmt: skip
    return record, TrackedReader(reader, tracker)


def _where(access: Access, path: VirtualPath) -> str:
    return f"{access.vfs.name}:{path}"


def _client(access: Access) -> str:
    return f"{access.principal.protocol}://{access.principal.client_address}"


async def _track(
    rt: Runtime,
    access: Access,
    direction: str,
    source: str,
    destination: str,
    agent_transfer: str | None,
    **known: Any,
) -> transfer_log.Tracker:
    """A transfer row for this /2.0 upload or download (written in a batch, not here); an
    agent's key (or a token issued from it) links the row to the agent. An agent that names its
    own transfer row (``agent_transfer``, the ``X-MFT-Transfer-Id`` header) reports this movement
    there, with its local end and progress: a second row for the same bytes would list every file
    twice under the agent. The upload or download event is recorded either way."""
    p = access.principal
    agent_id = await agents.agent_of_credential(rt, p.credential)
    return transfer_log.begin(rt.db, direction=direction, protocol=p.protocol, source=source,
                              destination=destination, partner=p.actor, owner=p.user, agent_id=agent_id,
                              recorded=agent_id is None or not agent_transfer, **known)  # fmt: skip


async def delete(rt: Runtime, access: Access, req: RequestPath) -> FileRecord:
    target = _file_target(rt, access, req)
    access.ensure(Permission.DELETE, target.folder)
    _require_folder(rt, access, target.folder, target.folder_rel)
    record = await _find(rt, access, target)
    metadata = await catalog.get_metadata(rt.db, record.fileset)
    event = _event(
        rt, access, "delete", target.path, now_us(), metadata,
        fileset=record.fileset, size=record.size, sha256=record.sha256,
    )  # fmt: skip
    if not await catalog.delete_file(rt.db, record, event):
        raise NotFoundError(f"File '{target.name}' doesn't exist")
    await _delete_object(rt, record)
    _wake_if(rt, event)
    return record


async def read_metadata(rt: Runtime, access: Access, req: RequestPath) -> dict[str, str]:
    target = _file_target(rt, access, req)
    access.ensure(Permission.DOWNLOAD, target.folder)
    _require_folder(rt, access, target.folder, target.folder_rel)
    record = await _find(rt, access, target)
    result = md.system_attributes(record)
    for key, value in (await catalog.get_metadata(rt.db, record.fileset)).items():
        result.setdefault(key, value)
    return result


async def write_metadata(rt: Runtime, access: Access, req: RequestPath, body: bytes) -> FileRecord:
    target = _file_target(rt, access, req)
    access.ensure(Permission.UPLOAD, target.folder)
    _require_folder(rt, access, target.folder, target.folder_rel)
    update = md.validate(md.parse_json_object(body))
    if not update.system and not update.user:
        raise RequestSyntaxError()
    record = await _find(rt, access, target)
    metadata = await catalog.get_metadata(rt.db, record.fileset)
    metadata.update(update.user)
    event = _event(rt, access, "metadata", target.path, now_us(), metadata,
                   fileset=record.fileset, size=record.size, sha256=record.sha256)  # fmt: skip
    if not await catalog.update_metadata(rt.db, record.fileset, update.system, update.user, event):
        raise NotFoundError(f"File '{target.name}' doesn't exist")
    _wake_if(rt, event)
    return record
