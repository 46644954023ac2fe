"""The SQLite catalog's writer lock between processes: a sibling waiting to write is woken at once.

SQLite lets one connection write at a time and makes the others poll for the lock: its busy
handler sleeps 1, 2, 5 … up to 100 ms between tries. Two ``serve --workers`` processes that both
write all the time then starve each other: the one that commits begins its next group commit
before the sleeping one looks again (measured: 4 KiB uploads on two workers no faster than on
one, with a 1 s p99). A ``flock`` on a file beside the catalog is waited for in the kernel, which
wakes the waiter as the lock is released, so the processes take turns batch by batch.

Advisory: only gateway processes take it; anything else writing the catalog (``migrate``)
still meets SQLite's own lock and busy timeout.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class WriterLock:
    """Held from a write batch's BEGIN to its COMMIT; within a process the write funnel already
    runs one batch at a time, so this only orders processes. With no ``path`` (an in-memory
    catalog, which no other process can open) it is always free."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fd = -1

    def _descriptor(self) -> int:
        if self._fd < 0:
            assert self.path is not None
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd

    def try_acquire(self) -> bool:
        if self.path is None:
            return True
        try:
            fcntl.flock(self._descriptor(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def acquire(self) -> None:
        """Wait for the lock (blocks: call it in a thread)."""
        if self.path is not None:
            fcntl.flock(self._descriptor(), fcntl.LOCK_EX)

    def release(self) -> None:
        if self.path is not None and self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
