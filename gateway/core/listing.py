"""Listing and counting a folder: declared sub-folders (from config) plus files (from the catalog).

Folders come first, then files; ``total`` counts every match before paging. Paging never loads
the whole folder: folders are few and in memory, files are paged by the catalog's indexes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from gateway.catalog import files as catalog
from gateway.catalog.files import SortKey
from gateway.catalog.records import FileRecord
from gateway.config.schema import Permission
from gateway.core.contracts import Access
from gateway.core.paths import VirtualPath
from gateway.core.runtime import Runtime
from gateway.errors import NotFoundError

ElementType = Literal["all", "files", "folders"]


@dataclass(frozen=True, slots=True)
class ListQuery:
    pattern: str = "*"
    type: ElementType = "all"
    sort: SortKey = "name"
    descending: bool = False
    start: int = 0
    limit: int = 500


@dataclass(frozen=True, slots=True)
class Listing:
    total: int
    folders: list[str]
    files: list[FileRecord]


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def _visible_folders(rt: Runtime, access: Access, folder: VirtualPath, pattern: str) -> list[str]:
    regex = _glob(pattern)
    return [
        name
        for name in rt.mounts.tree(access.vfs.name).children(folder)
        if regex.fullmatch(name) and access.can_see(folder.child(name))
    ]


def _folder(rt: Runtime, access: Access, relative: VirtualPath) -> VirtualPath:
    folder = access.absolute(relative)
    access.ensure(Permission.LIST, folder)
    if not rt.mounts.tree(access.vfs.name).exists(folder):
        raise NotFoundError("Path doesn't exist")  # as documented: no path in this message
    return folder


async def count(rt: Runtime, access: Access, relative: VirtualPath, pattern: str, type_: ElementType) -> int:
    """Raises AuthorizationError ("No list permission") or NotFoundError ("Path doesn't exist")."""
    folder = _folder(rt, access, relative)
    total = 0
    if type_ != "files":
        total += len(_visible_folders(rt, access, folder, pattern))
    if type_ != "folders":
        total += await catalog.count_files(rt.db, access.vfs.name, folder.text, pattern)
    return total


async def list_folder(rt: Runtime, access: Access, relative: VirtualPath, q: ListQuery) -> Listing:
    """One page of a folder. Raises as :func:`count`."""
    folder = _folder(rt, access, relative)
    folders = _visible_folders(rt, access, folder, q.pattern) if q.type != "files" else []
    if q.descending:
        folders.reverse()
    total = len(folders)
    page_folders = folders[q.start : q.start + q.limit]
    files: list[FileRecord] = []
    if q.type != "folders":
        total += await catalog.count_files(rt.db, access.vfs.name, folder.text, q.pattern)
        room = q.limit - len(page_folders)
        if room > 0:
            offset = max(0, q.start - len(folders))
            files = await catalog.list_files(
                rt.db, access.vfs.name, folder.text, q.pattern, q.sort, q.descending, offset, room
            )
    return Listing(total=total, folders=page_folders, files=files)
