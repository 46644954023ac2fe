"""What every core operation needs: the configuration, the catalog, the storage mounts, and
the contract actions (with a signal that wakes the dispatcher when new runs are queued)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from gateway.catalog.db import Database
from gateway.config.schema import GatewayConfig
from gateway.core.actions import ActionIndex
from gateway.core.vfs import Mounts


@dataclass(frozen=True, slots=True)
class Runtime:
    config: GatewayConfig
    db: Database
    mounts: Mounts
    actions: ActionIndex
    work: asyncio.Event = field(default_factory=asyncio.Event)

    def max_file_size(self, vfs: str) -> int | None:
        limits = [self.config.server.max_upload_bytes, self.config.vfs[vfs].limits.max_file_size]
        present = [x for x in limits if x is not None]
        return min(present) if present else None

    def wake(self) -> None:
        """Tell this process's dispatcher that runs may be due now."""
        self.work.set()
