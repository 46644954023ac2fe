"""``actors.yaml``: actors, their groups and their users.

User names are login names and group names appear in ACLs without an actor prefix, so both are
unique across all actors. A user's groups must be declared by the user's own actor. Passwords
are stored only as argon2 hashes: a plaintext value is refused (and never echoed back). A user
with ``admin: true`` (``User.admin``) may also use the ``/admin`` API (runs of contract actions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gateway.config._fields import Cursor, Fields, listing
from gateway.config.schema import Actor, ActorKind, Group, User

_ACTOR_KEYS = ("kind", "description", "groups", "users")
_USER_KEYS = ("password_hash", "enabled", "groups", "admin")
_KINDS: tuple[ActorKind, ...] = ("partner", "application")
_ARGON2 = re.compile(r"\$argon2(id|i|d)\$")


@dataclass(slots=True)
class Principals:
    """Everything ``actors.yaml`` declares, keyed by name, in declaration order."""

    actors: dict[str, Actor] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)


def parse_actors(cur: Cursor, data: object) -> Principals | None:
    """``None`` when there is no usable ``actors:`` mapping (reported): skip references to it."""
    top = Fields(cur, data, allowed=("actors",), required=("actors",))
    if not isinstance(top.get("actors"), dict):
        top.entries("actors", what="actor name")  # reports a wrong type
        return None
    out = Principals()
    declared: list[tuple[str, Fields]] = []
    # Groups first, so a user may name a group whatever the order (and the error can tell
    # "unknown" from "belongs to another actor").
    for name, acur, body in top.entries("actors", what="actor name"):
        f = Fields(acur, body, allowed=_ACTOR_KEYS, required=("kind",))
        kind = f.choice("kind", _KINDS, "partner", what="actor kind")
        out.actors[name] = Actor(name=name, kind=kind, description=f.text("description") or "")
        for group, gcur in f.strings("groups", what="group name"):
            other = out.groups.get(group)
            if other is not None:
                gcur.error(
                    f"duplicate group name {group!r} (already declared by actor {other.actor!r}). "
                    "Hint: group names must be unique across all actors"
                )
                continue
            out.groups[group] = Group(name=group, actor=name)
        declared.append((name, f))
    for actor, f in declared:
        for user, ucur, body in f.entries("users", what="user name"):
            _parse_user(out, actor, user, ucur, body)
    return out


def _parse_user(out: Principals, actor: str, name: str, cur: Cursor, body: object) -> None:
    other = out.users.get(name)
    if other is not None:
        cur.error(
            f"duplicate user name {name!r} (already declared by actor {other.actor!r}). "
            "Hint: user names are login names and must be unique across all actors"
        )
        return
    f = Fields(cur, body, allowed=_USER_KEYS, required=("password_hash",))
    password_hash = f.text("password_hash")
    if password_hash is not None and not _ARGON2.match(password_hash):
        f.at("password_hash").error(
            "not an argon2 hash (it must start with '$argon2'); plaintext passwords are not accepted. "
            "Hint: run `mft-gateway hash-password` and paste its output, or pass it in as ${ENV_VAR}"
        )
    groups: set[str] = set()
    for group, gcur in f.strings("groups", what="group name"):
        found = out.groups.get(group)
        own = [g for g, item in out.groups.items() if item.actor == actor]
        if found is None:
            gcur.error(f"unknown group {group!r}. Hint: groups of actor {actor!r} are: {listing(own)}")
        elif found.actor != actor:
            gcur.error(
                f"group {group!r} belongs to actor {found.actor!r}, not to the user's actor {actor!r}. "
                f"Hint: groups of actor {actor!r} are: {listing(own)}"
            )
        else:
            groups.add(group)
    out.users[name] = User(
        name=name,
        actor=actor,
        password_hash=password_hash or "",
        enabled=f.flag("enabled", True),
        groups=frozenset(groups),
        admin=f.flag("admin", False),
    )
