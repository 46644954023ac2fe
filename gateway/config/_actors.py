"""``actors.yaml``: actors, their groups and their users.

User names are login names and group names appear in ACLs without an actor prefix, so both are
unique across all actors. A user's groups must be declared by the user's own actor. Passwords
are stored only as argon2 hashes: a plaintext value is refused (and never echoed back). A user
with ``admin: true`` (``User.admin``) has the ``admin`` role.

Roles and scopes (``gateway/core/principal.py``): a user's ``roles`` default to ``[partner]`` and
its ``scopes`` to everything its roles allow; a scope its roles do not allow is an error.
``service_accounts:`` declares machine principals (applications, operators) beside the users:
same namespace, ``roles`` required, no password (they use API keys or OAuth clients).
``valid_until`` on an actor is the end of its agreement: afterwards its machine credentials
are answered 410.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from gateway.config._fields import Cursor, Fields, listing, pick, type_name
from gateway.config.schema import Actor, ActorKind, Group, User
from gateway.core.principal import ROLES, SCOPES, scopes_of_roles

_ACTOR_KEYS = ("kind", "description", "groups", "users", "service_accounts", "valid_until")
_USER_KEYS = ("password_hash", "enabled", "groups", "admin", "roles", "scopes")
_SERVICE_KEYS = ("enabled", "groups", "roles", "scopes")
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
        out.actors[name] = Actor(
            name=name, kind=kind, description=f.text("description") or "", valid_until=_valid_until(f)
        )
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
        for user, ucur, body in f.entries("service_accounts", what="service account name"):
            _parse_user(out, actor, user, ucur, body, service=True)
    return out


def _valid_until(f: Fields) -> int | None:
    """An ISO 8601 date (the agreement holds through that whole day, UTC) or date-time."""
    value = f.get("valid_until")
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        moment = datetime.datetime.combine(value + datetime.timedelta(days=1), datetime.time())
    else:
        text = value if isinstance(value, str) else ""
        try:
            moment = datetime.datetime.fromisoformat(text)
            if len(text) == 10:
                moment += datetime.timedelta(days=1)
        except ValueError:
            f.at("valid_until").error(
                f"expected an ISO 8601 date or date-time (2027-06-30 or 2027-06-30T18:00:00Z), got {type_name(value)}"
            )
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp() * 1_000_000)


def _roles_and_scopes(f: Fields, admin: bool, service: bool) -> tuple[frozenset[str], frozenset[str]]:
    roles = {role for role, rcur in f.strings("roles", what="role") if pick(rcur, role, ROLES, "role")}
    if service and not f.has("roles"):
        f.at("roles").error(f"missing required key. Hint: a service account needs roles, from: {listing(ROLES)}")
    if not f.has("roles"):
        roles = {"partner"}
    if admin:
        roles.add("admin")
    allowed = scopes_of_roles(frozenset(roles))
    if not f.has("scopes"):
        return frozenset(roles), allowed
    scopes: set[str] = set()
    for scope, scur in f.strings("scopes", what="scope"):
        if pick(scur, scope, SCOPES, "scope") is None:
            continue
        if scope not in allowed:
            scur.error(
                f"scope {scope!r} is not granted by the roles {listing(sorted(roles))}. "
                f"Hint: those roles allow: {listing(sorted(allowed))}"
            )
            continue
        scopes.add(scope)
    return frozenset(roles), frozenset(scopes)


def _parse_user(out: Principals, actor: str, name: str, cur: Cursor, body: object, service: bool = False) -> None:
    other = out.users.get(name)
    if other is not None:
        cur.error(
            f"duplicate user name {name!r} (already declared by actor {other.actor!r}). "
            "Hint: user names are login names and must be unique across all actors"
        )
        return
    if service:
        f = Fields(cur, body, allowed=_SERVICE_KEYS)
    else:
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
    admin = f.flag("admin", False)
    roles, scopes = _roles_and_scopes(f, admin, service)
    out.users[name] = User(
        name=name,
        actor=actor,
        password_hash=password_hash or "",
        enabled=f.flag("enabled", True),
        groups=frozenset(groups),
        admin=admin or "admin" in roles,
        roles=roles,
        scopes=scopes,
        service=service,
    )
