"""A contract action may name a task of tasks.yaml (``task:`` + ``params:``): a file event then
starts a real task run. The loader checks the task exists and knows every param."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.config.loader import collect_errors, load_config
from tests.config.test_loader import Config, _configure

TASKS: dict[str, Any] = {
    "tasks": {"ingest": {"params": {"queue": "default", "level": "1"}, "steps": [
        {"name": "say", "command": {"argv": ["/bin/echo", "{param.queue}"]}}]}}
}  # fmt: skip


def _action(task: str, params: dict[str, str]) -> Any:
    def mutate(config: Config) -> None:
        config["contracts.yaml"]["contracts"][0]["actions"] = [
            {"name": "start-ingest", "on": ["upload"], "task": task, "params": params}
        ]
        config["tasks.yaml"] = TASKS

    return mutate


def test_an_action_naming_a_task_is_parsed(tmp_path: Path) -> None:
    config = load_config(_configure(tmp_path, _action("ingest", {"queue": "fast"})), tmp_path)
    (action,) = config.contracts[0].actions
    assert (action.kind, action.task, dict(action.params)) == ("task", "ingest", {"queue": "fast"})
    assert action.webhook is None and action.command is None and action.route is None


def test_an_unknown_task_or_param_is_a_configuration_error(tmp_path: Path) -> None:
    errors = collect_errors(_configure(tmp_path / "a", _action("ingset", {})), tmp_path)
    assert errors == [
        "contracts.yaml: contract 'p5', action 'start-ingest': task 'ingset' is not defined in tasks.yaml; "
        "its tasks: ingest"
    ]
    errors = collect_errors(_configure(tmp_path / "b", _action("ingest", {"qeue": "x"})), tmp_path)
    assert errors == [
        "contracts.yaml: contract 'p5', action 'start-ingest': task 'ingest' has no parameter 'qeue'; "
        "its parameters: queue, level"
    ]
