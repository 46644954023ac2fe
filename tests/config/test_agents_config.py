"""gateway.yaml's ``agents:`` (seed 001 agents): defaults, values, and errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.loader import collect_errors, load_config
from gateway.config.schema import AgentsConfig, Enrollment
from tests.config.test_loader import _configure, put

ID = "partner5-enrol-01"
OK = {"id": ID, "customer": "jdoe"}


def test_agents_config_absent_section_gives_defaults(tmp_path: Path) -> None:
    assert load_config(_configure(tmp_path), tmp_path).agents == AgentsConfig()
    assert AgentsConfig().offline_after_seconds == 90 and not AgentsConfig().enrollments


def test_agents_config_values_are_parsed(tmp_path: Path) -> None:
    section = {
        "offline_after_seconds": 30,
        "transfer_retention_days": 7,
        "enrollments": [
            {"id": "partner5-enrol-01", "customer": "jdoe", "uses": 3},
            {"id": "acme.enrol~2", "customer": "acme-app"},
        ],
    }
    config = load_config(_configure(tmp_path, put("gateway.yaml", "agents", value=section)), tmp_path)
    assert config.agents.offline_after_seconds == 30.0 and config.agents.transfer_retention_days == 7.0
    assert dict(config.agents.enrollments) == {
        "partner5-enrol-01": Enrollment("partner5-enrol-01", "jdoe", 3),
        "acme.enrol~2": Enrollment("acme.enrol~2", "acme-app", 1),
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"offline_after_seconds": 0}, "gateway.yaml: agents.offline_after_seconds: expected a number of seconds"),
        ({"enrollments": [{"id": "short", "customer": "jdoe"}]}, "enrollments[0].id: an enrollment id is 8-128"),
        ({"enrollments": [{**OK, "customer": "nobody"}]}, "agents.enrollments[0].customer: unknown user 'nobody'"),
        ({"enrollments": [{**OK, "uses": 0}]}, "agents.enrollments[0].uses: expected a whole number from 1"),
        ({"enrollments": [{"customer": "jdoe"}]}, "gateway.yaml: agents.enrollments[0].id: missing required key"),
        ({"enrollments": [OK, OK]}, f"agents.enrollments[1].id: enrollment id '{ID}' is listed twice"),
        ({"offline_after": 5}, "agents.offline_after: unknown key. Did you mean 'offline_after_seconds'?"),
        ({"enrollments": {"id": "x"}}, "gateway.yaml: agents.enrollments: expected a list"),
    ],
)
def test_agents_config_bad_value_is_reported_with_file_and_key(tmp_path: Path, value: object, expected: str) -> None:
    errors = collect_errors(_configure(tmp_path, put("gateway.yaml", "agents", value=value)), tmp_path)
    assert len(errors) == 1, errors
    assert expected in errors[0], errors
