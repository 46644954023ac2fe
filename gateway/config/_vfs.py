"""``vfs.yaml``: virtual file systems, their folders, ACLs, retention and limits.

A VFS belongs to one actor and lives on one storage; a declared folder may move its subtree to
another storage. Declaring ``/inbox/archive`` also declares ``/inbox``, so ``Vfs.folders`` holds
every folder (declared or implied, sorted, without the root). ACL entries grant permissions on
the root or on a folder, to a user or a group of the VFS's own actor; children inherit them.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.config._actors import Principals
from gateway.config._fields import Cursor, Fields, listing, lookup, lookup_owned, parse_path, pick, type_name
from gateway.config._server import DEFAULT_STORAGE
from gateway.config.schema import AclEntry, Folder, Limits, Permission, Retention, Storage, Vfs
from gateway.core.paths import VirtualPath

_VFS_KEYS = ("actor", "storage", "acl", "retention", "limits", "paths", "permissions")
_PERMISSION_NAMES = (*(p.value for p in Permission), "all")


def parse_vfs(
    cur: Cursor, data: object, principals: Principals | None, storages: Mapping[str, Storage] | None
) -> dict[str, Vfs] | None:
    """``principals``/``storages`` are ``None`` when their file failed to load: skip those checks.

    Returns ``None`` when there is no usable ``vfs:`` mapping (reported): skip references to it.
    """
    top = Fields(cur, data, allowed=("vfs",), required=("vfs",))
    if not isinstance(top.get("vfs"), dict):
        top.entries("vfs", what="VFS name")  # reports a wrong type
        return None
    result: dict[str, Vfs] = {}
    for name, vcur, body in top.entries("vfs", what="VFS name"):
        result[name] = _parse_one(
            name, Fields(vcur, body, allowed=_VFS_KEYS, required=("actor",)), principals, storages
        )
    return result


def _parse_one(name: str, f: Fields, principals: Principals | None, storages: Mapping[str, Storage] | None) -> Vfs:
    actor = f.text("actor")
    if (
        actor is not None
        and lookup(f.at("actor"), actor, principals.actors if principals else None, "actor", "actors") is None
    ):
        actor = None  # unknown: skip the ownership checks below, the problem is reported
    folders = _folders(f, storages)
    retention = Fields(f.at("retention"), f.get("retention"), allowed=("after_put_hours", "after_first_get_hours"))
    limits = Fields(f.at("limits"), f.get("limits"), allowed=("max_file_size",))
    return Vfs(
        name=name,
        actor=actor or "",
        storage=_storage(f, storages),
        acl_enabled=f.flag("acl", True),
        folders=folders,
        acl=_acl(f, actor, folders, principals),
        retention=Retention(retention.hours("after_put_hours"), retention.hours("after_first_get_hours")),
        limits=Limits(limits.size("max_file_size", None)),
    )


def _storage(f: Fields, storages: Mapping[str, Storage] | None) -> str:
    name = f.text("storage")
    if name is not None:
        lookup(f.at("storage"), name, storages, "storage", "storages")
        return name
    if storages is None or DEFAULT_STORAGE in storages:
        return DEFAULT_STORAGE
    if len(storages) == 1:
        return next(iter(storages))
    f.at("storage").error(
        f"missing required key: there is no storage named {DEFAULT_STORAGE!r} and more than one storage. "
        f"Hint: known storages are: {listing(list(storages))}"
    )
    return DEFAULT_STORAGE


def _folders(f: Fields, storages: Mapping[str, Storage] | None) -> tuple[Folder, ...]:
    raw = f.get("paths")
    cur = f.at("paths")
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        cur.error(f"expected a mapping of virtual paths, got {type_name(raw)}")
        return ()
    declared: dict[VirtualPath, Folder] = {}
    for key, body in raw.items():
        kcur = cur.at(str(key))
        if not isinstance(key, str):
            kcur.error(f"a virtual path must be a string, got {type_name(key)}")
            continue
        path = parse_path(kcur, key)
        if path is None:
            continue
        if path.is_root:
            kcur.error("the root always exists and cannot be declared. Hint: set the VFS's 'storage' instead")
            continue
        if path in declared:
            kcur.error(f"folder '{path}' is declared twice")
            continue
        pf = Fields(kcur, body, allowed=("storage",))
        storage = pf.text("storage")
        if storage is not None:
            lookup(pf.at("storage"), storage, storages, "storage", "storages")
        declared[path] = Folder(path=path, storage=storage)
    folders = dict(declared)
    for folder in declared.values():
        for ancestor in folder.path.ancestors()[1:-1]:
            folders.setdefault(ancestor, Folder(path=ancestor))
    return tuple(sorted(folders.values(), key=lambda folder: folder.path.segments))


def _acl(
    f: Fields, actor: str | None, folders: tuple[Folder, ...], principals: Principals | None
) -> tuple[AclEntry, ...]:
    paths = {VirtualPath(), *(folder.path for folder in folders)}
    entries: list[AclEntry] = []
    seen: dict[tuple[str | None, str | None, VirtualPath], str] = {}
    for ecur, body in f.items("permissions"):
        e = Fields(ecur, body, allowed=("user", "group", "path", "allow"), required=("allow",))
        user, group = e.text("user"), e.text("group")
        if e.has("user") == e.has("group"):
            ecur.error("give exactly one of 'user' or 'group'")
        if user is not None:
            lookup_owned(
                e.at("user"), user, principals.users if principals else None, "user", "users", actor, "the VFS's"
            )
        if group is not None:
            lookup_owned(
                e.at("group"), group, principals.groups if principals else None, "group", "groups", actor, "the VFS's"
            )
        path = e.path("path")
        if path is not None and path not in paths:
            e.at("path").error(
                f"'{path}' is not a folder of this VFS. Hint: folders are: {listing(sorted(str(p) for p in paths))}"
            )
        if path is not None and (user, group, path) in seen:
            ecur.error(f"a second entry for the same user/group and path '{path}' (first: {seen[user, group, path]})")
        elif path is not None:
            seen[user, group, path] = ecur.key
        entries.append(AclEntry(path=path or VirtualPath(), permissions=_permissions(e), user=user, group=group))
    return tuple(entries)


def _permissions(e: Fields) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for name, pcur in e.strings("allow", what="permission"):
        found = pick(pcur, name, _PERMISSION_NAMES, what="permission")
        if found == "all":
            granted.update(Permission)
        elif found is not None:
            granted.add(Permission(found))
    return frozenset(granted)
