"""gateway.yaml's ``defender:`` and ``rate_limits:``: defaults, values, and errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.loader import collect_errors, load_config
from gateway.config.schema import DefenderConfig, RateLimitConfig
from tests.config.test_loader import _configure, put


def test_abuse_config_absent_sections_give_seed_defaults(tmp_path: Path) -> None:
    config = load_config(_configure(tmp_path), tmp_path)
    assert config.server.defender == DefenderConfig()
    limits = config.server.rate_limits
    assert (limits.public, limits.authenticated, limits.agent) == (10, 60, 300)  # seed 001
    assert limits.transfer == 1200 and limits.enabled


def test_abuse_config_values_are_parsed(tmp_path: Path) -> None:
    defender = {
        "threshold": 5,
        "account_threshold": 7,
        "observation_seconds": 60,
        "ban_seconds": 2.5,
        "ban_increment_seconds": 0,
        "max_ban_seconds": 10,
        "safe_list": ["10.0.0.0/8", "::1"],
    }
    limits = {"public": 0, "authenticated": 100, "agent": 1, "transfer": 5000, "sync_seconds": 0.5}
    config = load_config(
        _configure(
            tmp_path,
            put("gateway.yaml", "defender", value=defender),
            put("gateway.yaml", "rate_limits", value=limits),
        ),
        tmp_path,
    )
    assert config.server.defender == DefenderConfig(
        threshold=5,
        account_threshold=7,
        observation_seconds=60.0,
        ban_seconds=2.5,
        ban_increment_seconds=0.0,
        max_ban_seconds=10.0,
        safe_list=("10.0.0.0/8", "::1"),
    )
    assert config.server.rate_limits == RateLimitConfig(
        public=0, authenticated=100, agent=1, transfer=5000, sync_seconds=0.5
    )


@pytest.mark.parametrize(
    ("section", "value", "expected"),
    [
        ("defender", {"threshold": 0}, "gateway.yaml: defender.threshold: expected a whole number from 1"),
        ("defender", {"ban_seconds": -1}, "gateway.yaml: defender.ban_seconds: expected a number of seconds"),
        ("defender", {"safe_list": ["10.0.0.1/8"]}, "gateway.yaml: defender.safe_list[0]: invalid IP address"),
        ("defender", {"safe_list": ["not-an-ip"]}, "gateway.yaml: defender.safe_list[0]: invalid IP address"),
        ("defender", {"ban_seconds": 60, "max_ban_seconds": 30}, "gateway.yaml: defender.max_ban_seconds: the longest"),
        ("defender", {"treshold": 3}, "gateway.yaml: defender.treshold: unknown key. Did you mean 'threshold'?"),
        ("rate_limits", {"public": -1}, "gateway.yaml: rate_limits.public: expected a whole number from 0"),
        ("rate_limits", {"transfer": "fast"}, "gateway.yaml: rate_limits.transfer: expected a whole number"),
        ("rate_limits", {"sync_seconds": 0}, "gateway.yaml: rate_limits.sync_seconds: expected a number of seconds"),
        ("rate_limits", {"enabled": "yes"}, "gateway.yaml: rate_limits.enabled: expected a boolean"),
        ("rate_limits", {"downloads": 5}, "gateway.yaml: rate_limits.downloads: unknown key"),
        ("rate_limits", [1, 2], "gateway.yaml: rate_limits: expected a mapping"),
    ],
)
def test_abuse_config_bad_value_is_reported_with_file_and_key(
    tmp_path: Path, section: str, value: object, expected: str
) -> None:
    errors = collect_errors(_configure(tmp_path, put("gateway.yaml", section, value=value)), tmp_path)
    assert len(errors) == 1, errors
    assert expected in errors[0], errors
