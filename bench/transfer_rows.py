#!/usr/bin/env python3
"""The transfer log's own cost, per row, outside the app (gateway/core/transfer_log.py).

    .venv/bin/python bench/transfer_rows.py [--tree DIR] [--batch 250] [--rounds 40]

What a request pays (``begin`` + one ``add`` + ``finish``) and what the flusher pays (build the
rows, insert them, commit), on a fresh SQLite catalog with relaxed durability, in loop-thread
CPU time; then ``new_id()`` alone. ``--tree`` imports the gateway from another source tree (a
``git archive`` of the base revision) for before/after figures.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import timeit
from pathlib import Path


async def rows(batch: int, rounds: int, work: Path) -> tuple[float, float]:
    from gateway.catalog.db import Database
    from gateway.core import transfer_log

    db = Database(f"sqlite:///{work / 'catalog.db'}", durable=False)
    await db.migrate()
    request = flusher = 0.0
    warm = 5
    for r in range(rounds + warm):
        t0 = time.thread_time()
        for i in range(batch):
            t = transfer_log.begin(
                db, direction="upload", protocol="http", source="http://127.0.0.1",
                destination=f"bench:/small/f{r}-{i}", partner="BenchPartner", owner="bench",
            )  # fmt: skip
            t.add(4096)
            t.finish("completed", size=4096, sha256="a" * 64)
        t1 = time.thread_time()
        await transfer_log.flush(db)  # waits for the flusher's sleep: not CPU time
        t2 = time.thread_time()
        if r >= warm:
            request, flusher = request + t1 - t0, flusher + t2 - t1
    await db.dispose()
    n = rounds * batch
    return request / n * 1e6, flusher / n * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tree", type=Path, help="import the gateway from this source tree")
    p.add_argument("--batch", type=int, default=250, help="transfers per flush (about 0.25 s of 1,000 req/s)")
    p.add_argument("--rounds", type=int, default=40)
    args = p.parse_args()
    if args.tree:
        sys.path.insert(0, str(args.tree.resolve()))
    import gateway
    from gateway.core.transfer_log import new_id

    print(f"gateway from {Path(gateway.__file__).parent}")
    with tempfile.TemporaryDirectory(prefix="transfer-rows-") as work:
        request, flusher = asyncio.run(rows(args.batch, args.rounds, Path(work)))
    ids = min(timeit.repeat(new_id, number=100_000, repeat=5)) / 100_000 * 1e6
    print(f"request (begin + add + finish): {request:.2f} µs/row")
    print(f"flusher (rows, INSERT, commit): {flusher:.2f} µs/row")
    print(f"new_id():                       {ids:.2f} µs")


if __name__ == "__main__":
    main()
