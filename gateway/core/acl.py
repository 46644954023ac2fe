"""Per-path permissions: the closest ancestor with an entry for the caller decides.

A VFS with ACL off is open to every user a contract binds to it. With ACL on, the entries for
the user and for each of the user's groups on the nearest path (the path itself first, then
each parent up to the root) are merged; a child path that sets its own entries overrides what
it would inherit. No entry anywhere up the tree means no permission.
"""

from __future__ import annotations

from gateway.config.schema import Permission, Vfs
from gateway.core.paths import VirtualPath
from gateway.core.principal import Principal
from gateway.errors import AuthorizationError

DENIED_MESSAGES = {
    Permission.UPLOAD: "No write permission",
    Permission.DOWNLOAD: "No read permission",
    Permission.DELETE: "No delete permission",
    Permission.LIST: "No list permission",
    Permission.CREATE: "No create permission",
    Permission.RENAME: "No rename permission",
}


_ALL = frozenset(Permission)
_NONE: frozenset[Permission] = frozenset()


def effective(vfs: Vfs, principal: Principal, path: VirtualPath) -> frozenset[Permission]:
    """Every permission ``principal`` holds on ``path``.

    Ancestors are compared as segment tuples (``path`` itself first, the root last): every
    request asks this, and tuples compare in C where ``VirtualPath`` objects would be built and
    compared by their dataclass methods."""
    if not vfs.acl_enabled:
        return _ALL
    segments = path.segments
    for depth in range(len(segments), -1, -1):
        ancestor = segments[:depth]
        granted: frozenset[Permission] | None = None
        for entry in vfs.acl:
            if entry.path.segments != ancestor:
                continue
            if entry.user == principal.user or (entry.group is not None and entry.group in principal.groups):
                granted = entry.permissions if granted is None else granted | entry.permissions
        if granted is not None:
            return frozenset(granted)
    return _NONE


def allowed(vfs: Vfs, principal: Principal, permission: Permission, path: VirtualPath) -> bool:
    return permission in effective(vfs, principal, path)


def ensure(vfs: Vfs, principal: Principal, permission: Permission, path: VirtualPath) -> None:
    """Raise AuthorizationError (with the API's message for ``permission``) unless allowed."""
    if not allowed(vfs, principal, permission, path):
        raise AuthorizationError(DENIED_MESSAGES[permission])
