"""The JSON Schema (2020-12) of a task definition, as ``GET /api/pipelines/schema`` serves it.

Generated from the task parser's own key lists (``gateway/config/_tasks.py`` and ``_actions``):
every mapping the parser reads lists exactly the keys it accepts, with ``additionalProperties:
false``, so a key added to the parser without a type here fails at import (``KeyError``) and in
``tests/config/test_pipeline_schema.py``. The schema checks shapes; the parser still checks
what a schema cannot say (that a VFS or a connection exists, that a cron expression is valid).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.config import _actions, _tasks
from gateway.config.schema import EVENT_TYPES

_SECONDS = {"type": "number", "exclusiveMinimum": 0}
_TEXT = {"type": "string"}
_FLAG = {"type": "boolean"}
_SCALAR = {"type": ["string", "number", "boolean"]}
_STRINGS = {"type": "object", "additionalProperties": _SCALAR}


def _object(keys: Sequence[str], types: Mapping[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "object",
        "properties": {key: types[key] for key in keys},
        "additionalProperties": False,
    }
    if required:
        body["required"] = list(required)
    return body


_RETRY = _object(
    _actions._RETRY_KEYS,
    {"max_attempts": {"type": "integer", "minimum": 1, "maximum": 100},
     "backoff_seconds": _SECONDS, "max_backoff_seconds": _SECONDS},
)  # fmt: skip
_WEBHOOK = _object(
    _actions._WEBHOOK_KEYS,
    {"url": _TEXT, "headers": _STRINGS, "timeout_seconds": _SECONDS, "secret": _TEXT},
    ("url",),
)
_COMMAND = _object(
    _actions._COMMAND_KEYS,
    {"argv": {"type": "array", "items": _TEXT, "minItems": 1}, "env": _STRINGS, "cwd": _TEXT,
     "timeout_seconds": _SECONDS, "max_output_bytes": {"type": ["integer", "string"]}},
    ("argv",),
)  # fmt: skip
_ROUTE = _object(
    _actions._ROUTE_KEYS, {"vfs": _TEXT, "path": _TEXT, "mode": {"enum": ["copy", "move"]}}, ("vfs", "path")
)
_PULL = _object(
    _tasks._PULL_KEYS,
    {"connection": _TEXT, "folder": _TEXT, "glob": _TEXT, "vfs": _TEXT, "path": _TEXT, "delete_source": _FLAG},
    ("connection", "vfs", "path"),
)
_PUSH = _object(_tasks._PUSH_KEYS, {"connection": _TEXT, "folder": _TEXT}, ("connection",))
_KIND_BODIES = {"webhook": _WEBHOOK, "command": _COMMAND, "route": _ROUTE, "pull": _PULL, "push": _PUSH}
_STEP = {
    **_object(
        _tasks._STEP_KEYS,
        {"name": {"type": "string", "minLength": 1}, "retry": _RETRY, "timeout_seconds": _SECONDS,
         "on_error": {"enum": list(_tasks._ON_ERROR)}, **_KIND_BODIES},
        ("name",),
    ),
    # exactly one kind: what the step does
    "oneOf": [{"required": [kind]} for kind in _tasks._KINDS],
}  # fmt: skip
_SCHEDULE = _object(
    _tasks._SCHEDULE_KEYS,
    {"name": _TEXT, "cron": _TEXT, "timezone": _TEXT, "enabled": _FLAG,
     "misfire": {"enum": list(_tasks._MISFIRE)}, "params": _STRINGS},
    ("cron",),
)  # fmt: skip
_TRIGGER = _object(
    _tasks._TRIGGER_KEYS,
    {"vfs": _TEXT, "on": {"type": "array", "items": {"enum": list(EVENT_TYPES)}, "minItems": 1},
     "path": _TEXT, "metadata": _STRINGS},
    ("vfs", "on"),
)  # fmt: skip
_TASK_TYPES: dict[str, Any] = {
    "description": _TEXT,
    "params": _STRINGS,
    "input": _object(_tasks._INPUT_KEYS, {"vfs": _TEXT, "path": _TEXT}, ("vfs", "path")),
    "concurrency": {"type": "integer", "minimum": 1, "maximum": 1000},
    "on_busy": {"enum": list(_tasks._ON_BUSY)},
    "steps": {"type": "array", "items": {"$ref": "#/$defs/step"}, "minItems": 1},
    "schedules": {"type": "array", "items": {"$ref": "#/$defs/schedule"}},
    "trigger": {"$ref": "#/$defs/trigger"},
}


def task_schema() -> dict[str, Any]:
    """The schema of one task definition (a pipeline's YAML document)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:mft-gateway:pipeline",
        "title": "Pipeline (task definition)",
        **_object(_tasks._TASK_KEYS, _TASK_TYPES, ("steps",)),
        "$defs": {"step": _STEP, "schedule": _SCHEDULE, "trigger": _TRIGGER},
    }
