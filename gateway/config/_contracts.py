"""``contracts.yaml``: connection contracts, the only way a user reaches files.

A contract binds an actor (optionally narrowed to one user or group) on one protocol to a
subtree of one of the actor's own VFSs. ``protocols: [http, https]`` is shorthand for one
contract per protocol with the same name. Among enabled contracts there is at most one per
(actor, user, group, protocol) -- "one connection contract per (actor, server)" -- so that the
contract serving a request is never ambiguous. A contract's ``actions`` (webhooks, commands and
routes run on file events) are parsed by ``_actions``. ``metadata`` is attached to every file
arriving through the contract; its scalar values become strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from gateway.config._actions import parse_actions
from gateway.config._actors import Principals
from gateway.config._fields import Cursor, Fields, listing, lookup, lookup_owned, pick
from gateway.config._maps import string_pairs
from gateway.config.schema import Contract, Direction, Protocol, Vfs
from gateway.core.paths import VirtualPath

_KEYS = (
    "name",
    "actor",
    "user",
    "group",
    "protocol",
    "protocols",
    "vfs",
    "path",
    "direction",
    "metadata",
    "enabled",
    "actions",
)
_PROTOCOLS: tuple[Protocol, ...] = ("http", "https")
_DIRECTIONS: tuple[Direction, ...] = ("input", "output", "both")
_Binding = tuple[str, str | None, str | None, Protocol]


def parse_contracts(
    cur: Cursor, data: object, principals: Principals | None, vfss: Mapping[str, Vfs] | None
) -> list[Contract]:
    """``principals``/``vfss`` are ``None`` when their file failed to load: skip those checks."""
    top = Fields(cur, data, allowed=("contracts",), required=("contracts",))
    contracts: list[Contract] = []
    names: dict[str, str] = {}
    bindings: dict[_Binding, str] = {}
    for ccur, body in top.items("contracts"):
        f = Fields(ccur, body, allowed=_KEYS, required=("name", "actor", "vfs"))
        name = f.text("name") or ""
        if name in names:
            f.at("name").error(f"duplicate contract name {name!r} (first used by {names[name]})")
        elif name:
            names[name] = ccur.key
        actors, users, groups = (principals.actors, principals.users, principals.groups) if principals else (None,) * 3
        actor = f.text("actor")
        if actor is not None and lookup(f.at("actor"), actor, actors, "actor", "actors") is None:
            actor = None  # unknown (reported) or unverifiable: skip the ownership checks
        user, group = f.text("user"), f.text("group")
        if user is not None and group is not None:
            ccur.error("give at most one of 'user' or 'group' (neither: every user of the actor)")
        if user is not None:
            lookup_owned(f.at("user"), user, users, "user", "users", actor, "the contract's")
        if group is not None:
            lookup_owned(f.at("group"), group, groups, "group", "groups", actor, "the contract's")
        vfs_name = f.text("vfs") or ""
        vfs = lookup_owned(f.at("vfs"), vfs_name, vfss, "VFS", "VFSs", actor, "the contract's") if vfs_name else None
        path = f.path("path")
        if vfs is not None and path is not None and not path.is_root and path not in {d.path for d in vfs.folders}:
            folders = listing(["/", *(str(d.path) for d in vfs.folders)])
            f.at("path").error(f"'{path}' is not a folder of VFS {vfs.name!r}. Hint: its folders are: {folders}")
        direction = f.choice("direction", _DIRECTIONS, "both", what="direction")
        metadata = MappingProxyType({key: value for key, value, _ in string_pairs(f, "metadata", "metadata")})
        enabled = f.flag("enabled", True)
        actions = parse_actions(f, vfss)  # one tuple, shared by the contract of each protocol
        for protocol in _protocols(f):
            binding: _Binding = (actor or "", user, group, protocol)
            if enabled and actor is not None and binding in bindings:
                ccur.error(
                    f"another enabled contract ({bindings[binding]}) already binds {_who(actor, user, group)} "
                    f"on protocol {protocol!r}. Hint: one connection contract per (actor, server); "
                    "disable one of them with 'enabled: false'"
                )
            elif enabled:
                bindings[binding] = f"{name!r} at {ccur.key}"
            contracts.append(
                Contract(
                    name=name,
                    actor=actor or "",
                    protocol=protocol,
                    vfs=vfs_name,
                    path=path or VirtualPath(),
                    user=user,
                    group=group,
                    direction=direction,
                    metadata=metadata,
                    enabled=enabled,
                    actions=actions,
                )
            )
    return contracts


def _who(actor: str, user: str | None, group: str | None) -> str:
    if user is not None:
        return f"user {user!r} of actor {actor!r}"
    if group is not None:
        return f"group {group!r} of actor {actor!r}"
    return f"actor {actor!r} (all its users)"


def _protocols(f: Fields) -> list[Protocol]:
    if f.has("protocol") and f.has("protocols"):
        f.cur.error("give either 'protocol' or 'protocols', not both")
    if f.has("protocol"):
        return [f.choice("protocol", _PROTOCOLS, "http", what="protocol")]
    if not f.has("protocols"):
        f.at("protocol").error("missing required key. Hint: 'protocol: https' or 'protocols: [http, https]'")
        return []
    found = [pick(pcur, text, _PROTOCOLS, what="protocol") for text, pcur in f.strings("protocols", what="protocol")]
    protocols = [p for p in found if p is not None]
    if not found and f.get("protocols") == []:
        f.at("protocols").error("must list at least one protocol. Hint: choose from: http, https")
    return protocols
