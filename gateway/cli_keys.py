"""``mft-gateway api-key create|list|revoke|regenerate``: API keys from the command line.

It works on the catalog directly (like ``migrate``), with the configuration that says which
owners and scopes exist, so it needs the same ``--config``/``--data-dir``/``--database-url`` as
``serve``. The plaintext key is printed once, on standard output, alone on its line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gateway.core.runtime import Runtime
from gateway.errors import GatewayError


def add_parser(sub: Any) -> None:
    k = sub.add_parser("api-key", help="create, list, revoke or regenerate API keys")
    ops = k.add_subparsers(dest="op", required=True)
    for name, help_text in (
        ("create", "create a key and print it (shown only once)"),
        ("list", "list keys (never their secrets)"),
        ("revoke", "revoke a key and every token issued from it"),
        ("regenerate", "give a key a new secret and print it; the old one stops working"),
    ):
        p = ops.add_parser(name, help=help_text)
        p.add_argument("--config", type=Path, help="configuration folder (GATEWAY_CONFIG_DIR, default vfs-config)")
        p.add_argument("--data-dir", type=Path, help="GATEWAY_DATA_DIR, default data")
        p.add_argument("--database-url", help="catalog DSN (GATEWAY_DATABASE_URL)")
        if name == "create":
            p.add_argument("--owner", required=True, help="user or service account the key acts as")
            p.add_argument("--name", required=True, help="what the key is for")
            p.add_argument("--scope", action="append", help="a scope (repeat); default: all of the owner's")
            p.add_argument("--expires", help="ISO 8601 date-time after which the key stops working")
        elif name == "list":
            p.add_argument("--owner", help="only this owner's keys")
            p.add_argument("--json", action="store_true", help="one JSON document")
        else:
            p.add_argument("key_id", help="the key's id (the part after mft_ak_)")
    k.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.app import start_runtime
    from gateway.settings import Settings

    settings = Settings.from_env(config_dir=args.config, data_dir=args.data_dir, database_url=args.database_url)

    async def main() -> int:
        rt = await start_runtime(settings)
        try:
            return await _OPS[args.op](rt, args)
        finally:
            await rt.db.dispose()

    try:
        return asyncio.run(main())
    except GatewayError as exc:
        print(exc.message, file=sys.stderr)
        return 2


async def _create(rt: Runtime, args: argparse.Namespace) -> int:
    from gateway.core import apikeys
    from gateway.http.admin_keys import key_json, parse_expiry, parse_scopes

    scopes = parse_scopes(args.scope)
    record, plaintext = await apikeys.create(rt, args.owner, args.name, scopes, parse_expiry(args.expires), "cli")
    print(f"created API key {record.id} for {record.owner} ({', '.join(key_json(record)['scopes'])})", file=sys.stderr)
    print(plaintext)
    return 0


async def _list(rt: Runtime, args: argparse.Namespace) -> int:
    from gateway.core import apikeys
    from gateway.http.admin_keys import key_json

    found = [key_json(r) for r in await apikeys.search(rt, args.owner)]
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for k in found:
        scopes = ",".join(k["scopes"])
        print(f"{k['id']}  {k['status']:8} {k['owner']:20} {k['name']!r} [{scopes}] last used {k['lastUsedAt'] or '-'}")
    return 0


async def _revoke(rt: Runtime, args: argparse.Namespace) -> int:
    from gateway.core import apikeys

    await apikeys.revoke(rt, args.key_id, "cli")
    print(f"revoked API key {args.key_id}", file=sys.stderr)
    return 0


async def _regenerate(rt: Runtime, args: argparse.Namespace) -> int:
    from gateway.core import apikeys

    _, plaintext = await apikeys.regenerate(rt, args.key_id, "cli")
    print(plaintext)
    return 0


_OPS: dict[str, Callable[[Runtime, argparse.Namespace], Awaitable[int]]] = {
    "create": _create,
    "list": _list,
    "revoke": _revoke,
    "regenerate": _regenerate,
}
