"""A second gateway process for the replay tests: ``python -m tests.core.assertion_peer``.

Reads one JSON line (catalog URL, registered keys, audience, assertions), opens its own catalog
engine, prints ``ready``, waits for a ``go`` line, then verifies every assertion concurrently (last
first) and prints the indexes it accepted as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys

from gateway.catalog.db import Database
from gateway.core.client_assertion import AssertionError_, AssertionKey, verify
from tests.core.test_client_assertion import _runtime


async def _main() -> None:
    job = json.loads(sys.stdin.readline())
    keys = {client: [AssertionKey(**k) for k in registered] for client, registered in job["keys"].items()}
    db = Database(job["url"])
    try:
        rt = _runtime(db)
        await db.check()
        print("ready", flush=True)
        sys.stdin.readline()

        async def attempt(index: int, token: str) -> int | None:
            try:
                await verify(rt, token, keys=keys, audiences=[job["audience"]])
            except AssertionError_:
                return None
            return index

        # last to first: meets the other process, which goes first to last, somewhere in between
        accepted = await asyncio.gather(*(attempt(i, t) for i, t in reversed(list(enumerate(job["tokens"])))))
        print(json.dumps([i for i in accepted if i is not None]), flush=True)
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(_main())
