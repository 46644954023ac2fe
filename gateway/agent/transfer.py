"""One file's transfer row on the gateway: created, patched with progress at most once a second,
finished with the SHA-256 or failed with a reason.

Why throttled: the seed's ``PATCH /api/transfers/{id}`` is a catalog write; a chunk every few
milliseconds must not become a write every few milliseconds. The first and last reports always go.
"""

from __future__ import annotations

import time
from typing import Any

from gateway.agent.api import AgentApi, ApiError

REPORT_EVERY = 1.0


class Reporter:
    """Progress of one file to ``/api/transfers/{id}``."""

    def __init__(self, api: AgentApi, transfer_id: str, size: int) -> None:
        self.api = api
        self.id = transfer_id
        self.size = size
        self.started = time.monotonic()
        self.last = 0.0
        self.base = 0  # bytes already there when this process started (a resumed download)

    def _body(self, done: int, status: str) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-3)
        progress = 100 if self.size == 0 else min(100, done * 100 // self.size)
        return {
            "status": status,
            "progress": progress,
            "bytesTransferred": done,
            "speed": int(max(done - self.base, 0) / elapsed),
        }

    async def begin(self, done: int = 0) -> None:
        self.base = done
        await self.api.update_transfer(self.id, self._body(done, "running"))
        self.last = time.monotonic()

    async def progress(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last >= REPORT_EVERY and done < self.size:
            self.last = now
            try:
                await self.api.update_transfer(self.id, self._body(done, "running"), patient=False)
            except ApiError as exc:
                if exc.status != 429:
                    raise  # a rate-limited progress report is skipped; the next one carries on

    async def completed(self, sha256: str) -> None:
        await self.api.update_transfer(self.id, {**self._body(self.size, "completed"), "sha256": sha256})

    async def failed(self, done: int, reason: str) -> None:
        await self.api.update_transfer(self.id, {**self._body(done, "failed"), "error": reason[:500]})
