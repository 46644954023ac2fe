"""What every core operation needs: the configuration, the catalog and the storage mounts."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.catalog.db import Database
from gateway.config.schema import GatewayConfig
from gateway.core.vfs import Mounts


@dataclass(frozen=True, slots=True)
class Runtime:
    config: GatewayConfig
    db: Database
    mounts: Mounts

    def max_file_size(self, vfs: str) -> int | None:
        limits = [self.config.server.max_upload_bytes, self.config.vfs[vfs].limits.max_file_size]
        present = [x for x in limits if x is not None]
        return min(present) if present else None
