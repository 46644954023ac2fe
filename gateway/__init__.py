"""HTTP managed-file-transfer gateway, wire-compatible with the STENG /2.0 partner API."""

from __future__ import annotations

__version__ = "0.1.0"
