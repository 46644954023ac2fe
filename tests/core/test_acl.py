from __future__ import annotations

import pytest

from gateway.config.schema import AclEntry, Contract, Permission, Vfs
from gateway.core import acl
from gateway.core.contracts import Access
from gateway.core.paths import VirtualPath, parse_config_path
from gateway.core.principal import Principal
from gateway.errors import AuthorizationError

P = Permission
ALL = frozenset(Permission)


def _entry(path: str, perms: set[Permission], user: str | None = None, group: str | None = None) -> AclEntry:
    return AclEntry(path=parse_config_path(path), permissions=frozenset(perms), user=user, group=group)


VFS = Vfs(
    name="v",
    actor="A",
    storage="default",
    acl=(
        _entry("/", {P.LIST}, group="staff"),
        _entry("/inbox", {P.UPLOAD}, user="carol"),
        _entry("/inbox", {P.LIST, P.DOWNLOAD}, group="readers"),
        _entry("/inbox/private", set(), group="readers"),  # an own entry overrides inheritance
        _entry("/outbox", {P.DOWNLOAD}, user="bob"),
        _entry("/outbox", {P.LIST}, group="staff"),
    ),
)


def _who(user: str, *groups: str) -> Principal:
    return Principal(user=user, actor="A", groups=frozenset(groups), protocol="http", client_address="")


@pytest.mark.parametrize(
    ("principal", "path", "expected"),
    [
        (_who("zed"), "/", frozenset()),  # no entry anywhere up the tree: nothing
        (_who("zed", "staff"), "/", {P.LIST}),
        (_who("zed", "staff"), "/deep/er", {P.LIST}),  # inherited from the root
        (_who("carol"), "/inbox", {P.UPLOAD}),
        (_who("carol"), "/inbox/sub", {P.UPLOAD}),  # inherited from /inbox
        (_who("carol", "staff"), "/inbox", {P.UPLOAD}),  # /inbox's entries replace the root's
        (_who("rita", "readers"), "/inbox", {P.LIST, P.DOWNLOAD}),
        (_who("rita", "readers"), "/inbox/private", frozenset()),  # overridden by an empty entry
        (_who("carol", "readers"), "/inbox", {P.UPLOAD, P.LIST, P.DOWNLOAD}),  # user and group merge
        (_who("bob", "staff"), "/outbox", {P.DOWNLOAD, P.LIST}),
        (_who("bob"), "/outboxes", frozenset()),  # a sibling with a common prefix inherits nothing
    ],
)
def test_acl_effective_closest_ancestor_decides(principal: Principal, path: str, expected: set[Permission]) -> None:
    assert acl.effective(VFS, principal, parse_config_path(path)) == frozenset(expected)


def test_acl_disabled_vfs_grants_everything() -> None:
    open_vfs = Vfs(name="o", actor="A", storage="default", acl_enabled=False)
    assert acl.effective(open_vfs, _who("anyone"), VirtualPath(("x",))) == ALL


@pytest.mark.parametrize(
    ("permission", "message"),
    [
        (P.UPLOAD, "No write permission"),
        (P.DOWNLOAD, "No read permission"),
        (P.DELETE, "No delete permission"),
        (P.LIST, "No list permission"),
    ],
)
def test_acl_ensure_denied_raises_api_message(permission: Permission, message: str) -> None:
    with pytest.raises(AuthorizationError) as info:
        acl.ensure(VFS, _who("zed"), permission, VirtualPath())
    assert info.value.message == message


@pytest.mark.parametrize(
    ("direction", "permission", "allowed"),
    [
        ("input", P.UPLOAD, True),
        ("input", P.DOWNLOAD, False),
        ("output", P.UPLOAD, False),
        ("output", P.DOWNLOAD, True),
        ("output", P.DELETE, True),
        ("both", P.DOWNLOAD, True),
    ],
)
def test_access_contract_direction_filters_before_acl(direction: str, permission: Permission, allowed: bool) -> None:
    open_vfs = Vfs(name="o", actor="A", storage="default", acl_enabled=False)
    contract = Contract(name="c", actor="A", protocol="http", vfs="o", direction=direction)  # type: ignore[arg-type]
    access = Access(principal=_who("u"), contract=contract, vfs=open_vfs)
    if allowed:
        access.ensure(permission, VirtualPath())
    else:
        with pytest.raises(AuthorizationError):
            access.ensure(permission, VirtualPath())
