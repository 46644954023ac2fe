"""Process settings: where the config and data live, which catalog, how to listen.

They come from ``GATEWAY_*`` environment variables, overridden by CLI flags. Everything about
partners, VFSs and contracts is configuration (``vfs-config/``), not a setting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Settings:
    config_dir: Path = Path("vfs-config")
    data_dir: Path = Path("data")
    database_url: str | None = field(default=None, repr=False)  # may embed a password
    host: str = "127.0.0.1"
    port: int = 8080
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    log_level: str = "info"
    migrate: bool = True
    graceful_shutdown_seconds: int = 30

    @property
    def catalog_url(self) -> str:
        from gateway.catalog.db import sqlite_url  # lazily: a workers' supervisor needs no SQLAlchemy

        return self.database_url or sqlite_url(self.data_dir.resolve())

    def __repr__(self) -> str:
        db = "<set>" if self.database_url else "<sqlite in data dir>"
        return (
            f"Settings(config_dir={self.config_dir!s}, data_dir={self.data_dir!s}, database_url={db}, "
            f"host={self.host}, port={self.port}, tls={'on' if self.tls_certfile else 'off'})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for key, convert in (
            ("config_dir", Path),
            ("data_dir", Path),
            ("database_url", str),
            ("host", str),
            ("port", int),
            ("tls_certfile", Path),
            ("tls_keyfile", Path),
            ("log_level", str),
        ):
            raw = env.get(f"GATEWAY_{key.upper()}")
            if raw:
                values[key] = convert(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)
