"""Build the storage backends named in the configuration."""

from __future__ import annotations

from pathlib import Path

from gateway.config.schema import GatewayConfig
from gateway.errors import ConfigurationError
from gateway.storage.base import StorageBackend
from gateway.storage.local import LocalBackend


def build(config: GatewayConfig, data_dir: Path) -> dict[str, StorageBackend]:
    """One backend per configured storage.

    A root inside the data dir is created on demand (the embedded default needs no setup); a root
    elsewhere must already exist, because a missing one is more likely an unmounted volume than a
    wish to fill the system disk.
    """
    backends: dict[str, StorageBackend] = {}
    data = data_dir.resolve()
    for name, storage in config.storages.items():
        if storage.type != "local":
            raise ConfigurationError(f"storage '{name}': unknown type '{storage.type}'")
        root = storage.root.resolve()
        if root.is_relative_to(data):
            root.mkdir(parents=True, exist_ok=True)
        elif not root.is_dir():
            raise ConfigurationError(f"storage '{name}': root {root} does not exist or is not a directory")
        backends[name] = LocalBackend(
            name,
            root,
            durable=storage.durable,
            inline_small_reads=storage.inline_small_reads,
            inline_small_writes=storage.inline_small_writes,
        )
    return backends
