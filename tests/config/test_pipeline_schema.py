"""The pipeline JSON Schema follows the task parser's keys (a key added to the parser without
a type here fails this test), and agrees with the parser on the demo and on broken documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from gateway.config import _actions, _tasks
from gateway.config.pipeline_schema import task_schema

SCHEMA = task_schema()
DEFS = SCHEMA["$defs"]


def _keys(schema: dict[str, Any]) -> set[str]:
    assert schema["additionalProperties"] is False
    return set(schema["properties"])


def test_pipeline_schema_lists_exactly_the_parser_keys_everywhere() -> None:
    step = DEFS["step"]["properties"]
    assert _keys(SCHEMA) == set(_tasks._TASK_KEYS)
    assert _keys(DEFS["step"]) == set(_tasks._STEP_KEYS)
    assert _keys(DEFS["schedule"]) == set(_tasks._SCHEDULE_KEYS)
    assert _keys(DEFS["trigger"]) == set(_tasks._TRIGGER_KEYS)
    assert _keys(SCHEMA["properties"]["input"]) == set(_tasks._INPUT_KEYS)
    assert _keys(step["pull"]) == set(_tasks._PULL_KEYS)
    assert _keys(step["push"]) == set(_tasks._PUSH_KEYS)
    assert _keys(step["webhook"]) == set(_actions._WEBHOOK_KEYS)
    assert _keys(step["command"]) == set(_actions._COMMAND_KEYS)
    assert _keys(step["route"]) == set(_actions._ROUTE_KEYS)
    assert _keys(step["retry"]) == set(_actions._RETRY_KEYS)
    assert [one["required"] for one in DEFS["step"]["oneOf"]] == [[kind] for kind in _tasks._KINDS]


def test_pipeline_schema_is_2020_12_and_accepts_every_demo_task() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    demo = yaml.safe_load((Path(__file__).parents[2] / "vfs-config" / "tasks.yaml").read_text())
    for name, task in demo["tasks"].items():
        assert not [e.message for e in validator.iter_errors(task)], name


def test_pipeline_schema_refuses_what_the_parser_refuses() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    bad = [
        {},  # no steps
        {"steps": []},
        {"steps": [{"name": "a", "command": {"argv": ["x"]}, "route": {"vfs": "v", "path": "/"}}]},  # two kinds
        {"steps": [{"name": "a", "pull": {"connection": "c"}}]},  # pull without vfs/path
        {"steps": [{"name": "a", "command": {"argv": ["x"]}, "on_error": "ignore"}]},
        {"steps": [{"name": "a", "command": {"argv": ["x"]}}], "on_busy": "wait"},
    ]
    for document in bad:
        assert list(validator.iter_errors(document)), document
