"""The audit trail of credential events (interface; the implementation is pending).

Event names: ``login.ok``, ``login.failed``, ``apikey.created``, ``apikey.first_use``,
``apikey.revoked``, ``apikey.regenerated``, ``token.issued``, ``token.revoked``, ``ban.added``,
``ban.lifted``. ``detail`` never holds a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.catalog.db import Database


async def record(
    db: Database,
    event: str,
    *,
    principal: str | None,
    address: str | None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append one event (committed on its own)."""
