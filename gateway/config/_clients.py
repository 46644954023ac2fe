"""``oauth-clients.yaml`` (optional): the OAuth 2.0 clients of ``/oauth2/token``.

Each client acts as one configured principal (usually a service account) and may be granted at
most that principal's scopes. It authenticates with a secret, stored only as an argon2 hash
(``client_secret_basic`` or ``client_secret_post``), or with a JWT signed by one of its public
keys (``private_key_jwt``, ES256 on P-256 or RS256 with at least 2048 bits), or either.
"""

from __future__ import annotations

import re
from typing import Literal

from gateway.config._fields import Cursor, Fields, listing, lookup
from gateway.config.schema import OAuthClient, User
from gateway.core.client_assertion import AssertionKey, check_key

_CLIENT_KEYS = ("principal", "scopes", "secret_hash", "keys", "enabled")
_KEY_KEYS = ("kid", "alg", "public_key")
_ALGS: tuple[Literal["ES256"], Literal["RS256"]] = ("ES256", "RS256")
_ARGON2 = re.compile(r"\$argon2(id|i|d)\$")
_CLIENT_ID = re.compile(r"[A-Za-z0-9._~-]{1,128}")


def parse_clients(cur: Cursor, data: object, users: dict[str, User] | None) -> dict[str, OAuthClient]:
    top = Fields(cur, data, allowed=("clients",))
    clients: dict[str, OAuthClient] = {}
    for client_id, ccur, body in top.entries("clients", what="client id"):
        if not _CLIENT_ID.fullmatch(client_id):
            ccur.error("a client id is 1-128 characters from A-Z a-z 0-9 . _ ~ -")
            continue
        f = Fields(ccur, body, allowed=_CLIENT_KEYS, required=("principal",))
        name = f.text("principal")
        owner = lookup(f.at("principal"), name, users, "user or service account", "principals") if name else None
        secret_hash = f.text("secret_hash")
        if secret_hash is not None and not _ARGON2.match(secret_hash):
            f.at("secret_hash").error(
                "not an argon2 hash (it must start with '$argon2'). Hint: run `mft-gateway hash-password`"
            )
        keys = _keys(f)
        if not f.has("secret_hash") and not f.has("keys") and f.has("principal"):
            ccur.error("the client has no way to authenticate. Hint: give it a secret_hash or keys (or both)")
        scopes: set[str] = set()
        allowed = owner.scopes if owner is not None else frozenset()
        for scope, scur in f.strings("scopes", what="scope"):
            if owner is not None and scope not in allowed:
                scur.error(f"scope {scope!r} is not held by {owner.name!r}. Hint: it holds: {listing(sorted(allowed))}")
                continue
            scopes.add(scope)
        if not f.has("scopes"):
            f.at("scopes").error("missing required key. Hint: list the scopes this client may request")
        clients[client_id] = OAuthClient(
            client_id=client_id,
            principal=name or "",
            scopes=frozenset(scopes),
            secret_hash=secret_hash,
            keys=keys,
            enabled=f.flag("enabled", True),
        )
    return clients


def _keys(f: Fields) -> tuple[AssertionKey, ...]:
    keys: list[AssertionKey] = []
    for kcur, body in f.items("keys"):
        k = Fields(kcur, body, allowed=_KEY_KEYS, required=_KEY_KEYS)
        kid, alg, pem = k.text("kid"), k.choice("alg", _ALGS, "ES256", what="algorithm"), k.text("public_key")
        if not kid or not pem:
            continue
        if any(existing.kid == kid for existing in keys):
            k.at("kid").error(f"kid {kid!r} is used twice by this client")
            continue
        key = AssertionKey(kid=kid, alg="RS256" if alg == "RS256" else "ES256", public_key_pem=pem)
        try:
            check_key(key)
        except ValueError as exc:
            k.at("public_key").error(str(exc))
            continue
        keys.append(key)
    return tuple(keys)
