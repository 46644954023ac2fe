"""The API's one time format: UTC ISO-8601 with milliseconds and ``Z``."""

from __future__ import annotations

import functools
import time


def now_us() -> int:
    return time.time_ns() // 1000


@functools.lru_cache(maxsize=65536)
def _second(seconds: int) -> str:
    # A listing page renders thousands of dates, most sharing a few seconds: format each once.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def iso_ms(us: int | None) -> str:
    """Render catalog microseconds; ``None`` renders as ``""`` as the API does for unset dates."""
    if us is None:
        return ""
    seconds, rest = divmod(us, 1_000_000)
    return f"{_second(seconds)}.{rest // 1000:03d}Z"


def iso_now() -> str:
    return iso_ms(now_us())
