"""``server.client_assertion_*`` in gateway.yaml: the private_key_jwt lifetime limit and leeway."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.loader import collect_errors, load_config
from tests.config.test_loader import _configure, put


def test_assertion_settings_default_to_ten_minutes_and_thirty_seconds(tmp_path: Path) -> None:
    server = load_config(_configure(tmp_path), tmp_path).server
    assert (server.client_assertion_max_lifetime_seconds, server.client_assertion_leeway_seconds) == (600, 30)


def test_assertion_settings_are_parsed(tmp_path: Path) -> None:
    values = {"client_assertion_max_lifetime_seconds": 300, "client_assertion_leeway_seconds": 0}
    server = load_config(_configure(tmp_path, put("gateway.yaml", "server", value=values)), tmp_path).server
    assert (server.client_assertion_max_lifetime_seconds, server.client_assertion_leeway_seconds) == (300, 0)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("client_assertion_max_lifetime_seconds", 0, "expected a whole number from 1 to 3600, got 0"),
        ("client_assertion_max_lifetime_seconds", 3601, "expected a whole number from 1 to 3600, got 3601"),
        ("client_assertion_max_lifetime_seconds", "10m", "expected a whole number from 1 to 3600, got a string"),
        ("client_assertion_leeway_seconds", -1, "expected a whole number from 0 to 300, got -1"),
        ("client_assertion_leeway_seconds", 301, "expected a whole number from 0 to 300, got 301"),
    ],
)
def test_assertion_settings_out_of_range_are_reported_with_file_and_key(
    tmp_path: Path, key: str, value: object, expected: str
) -> None:
    errors = collect_errors(_configure(tmp_path, put("gateway.yaml", "server", value={key: value})), tmp_path)
    assert len(errors) == 1
    assert errors[0].endswith(f"gateway.yaml: server.{key}: {expected}"), errors
