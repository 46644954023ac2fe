from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.core.timefmt import iso_ms


@pytest.mark.parametrize("us", [0, 999, 1_600_167_301_669_123, 1_763_845_301_999_999, 4_102_444_800_000_000])
def test_iso_ms_matches_datetime_truncated_to_milliseconds(us: int) -> None:
    expected = datetime.fromtimestamp(us // 1_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert iso_ms(us) == f"{expected}.{us % 1_000_000 // 1000:03d}Z"


def test_iso_ms_unset_is_empty_string() -> None:
    assert iso_ms(None) == ""
