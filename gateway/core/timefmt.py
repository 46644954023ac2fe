"""The API's one time format: UTC ISO-8601 with milliseconds and ``Z``."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_us() -> int:
    return time.time_ns() // 1000


def iso_ms(us: int | None) -> str:
    """Render catalog microseconds; ``None`` renders as ``""`` as the API does for unset dates."""
    if us is None:
        return ""
    dt = datetime.fromtimestamp(us // 1_000_000, tz=UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{(us % 1_000_000) // 1000:03d}Z"


def iso_now() -> str:
    return iso_ms(now_us())
