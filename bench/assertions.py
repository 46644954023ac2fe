"""CPU per private_key_jwt verification (gateway/core/client_assertion.py), in-process.

    .venv/bin/python bench/assertions.py [N]

For ES256 and RS256 (2048-bit): the whole ``verify`` (parsing, signature, claims, the jti insert
into a SQLite catalog, durable and not) and the signature check alone, per assertion. The token
endpoint pays this once per token request; no file request does.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jwt

from gateway.catalog.db import Database, sqlite_url
from gateway.config.schema import GatewayConfig
from gateway.core import client_assertion as ca
from gateway.core.actions import ActionIndex
from gateway.core.runtime import Runtime
from gateway.core.vfs import Mounts
from tests.oauth_client import ClientKey

AUD = "https://gw.example/oauth2/token"


def _runtime(db: Database) -> Runtime:
    empty: MappingProxyType[str, object] = MappingProxyType({})
    config = GatewayConfig(Path("."), empty, empty, empty, empty, empty, ())  # type: ignore[arg-type]
    return Runtime(config=config, db=db, mounts=Mounts(config, {}), actions=ActionIndex(config))


async def _measure(n: int, durable: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        db = Database(sqlite_url(Path(d)), durable=durable)
        await db.migrate()
        rt = _runtime(db)
        for key in (ClientKey.generate("k", "ES256"), ClientKey.generate("k", "RS256")):
            keys = {"c": [key.assertion_key()]}
            tokens = [key.assertion("c", AUD) for _ in range(n)]
            wall, cpu = time.perf_counter(), time.process_time()
            for token in tokens:
                await ca.verify(rt, token, keys=keys, audiences=[AUD])
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            public = ca._public_key(key.public_pem, key.alg)
            sig = time.process_time()
            for token in tokens:
                jwt.PyJWS().decode_complete(token, public, algorithms=[key.alg])
            sig = time.process_time() - sig
            print(
                f"{key.alg} catalog durable={durable!s:5}: verify {1e3 * cpu / n:.3f} ms CPU "
                f"({1e3 * wall / n:.3f} ms wall), of which the signature {1e3 * sig / n:.3f} ms CPU"
            )
        await db.dispose()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    asyncio.run(_measure(n, durable=False))
    asyncio.run(_measure(n, durable=True))


if __name__ == "__main__":
    main()
