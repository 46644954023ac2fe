"""``tasks.yaml``: tasks, steps and schedules load; every mistake is named by file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.config.loader import collect_errors, load_config
from tests.config.test_loader import _base, _write

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def _with(tmp_path: Path, tasks: Any, **top: Any) -> Path:
    config = _base()
    config["connections.yaml"] = {
        "connections": {
            "partner": {"type": "sftp", "host": "h.example", "username": "u", "password": "p", "host_keys": [HOST_KEY]}
        }
    }
    config["tasks.yaml"] = {"tasks": tasks, **top}
    return _write(tmp_path / "cfg", config)


GOOD = {
    "relay": {
        "description": "pull, route, push",
        "params": {"file": "a.txt", "retries": 3},
        "input": {"vfs": "partners", "path": "/outbox/{file}"},
        "concurrency": 2,
        "on_busy": "queue",
        "steps": [
            {"name": "fetch", "pull": {"connection": "partner", "folder": "out", "glob": "*.csv", "vfs": "partners",
                                       "path": "/outbox", "delete_source": True}},
            {"name": "send", "push": {"connection": "partner", "folder": "in"}, "timeout_seconds": 60,
             "retry": {"max_attempts": 4, "backoff_seconds": 1}, "on_error": "continue"},
            {"name": "tell", "command": {"argv": ["/bin/echo", "{param.file}", "{path}"]}},
        ],
        "schedules": [{"cron": "*/15 8-18 * * 1-5", "timezone": "Europe/Paris", "misfire": "run_once"}],
    }
}  # fmt: skip


def test_tasks_load_with_steps_schedules_and_limits(tmp_path: Path) -> None:
    config = load_config(_with(tmp_path, GOOD, limits={"max_active_runs": 7}, plan={"tier": "gold"}), tmp_path)
    task = config.tasks.tasks["relay"]
    assert [s.kind for s in task.steps] == ["pull", "push", "command"]
    assert task.steps[0].pull is not None and task.steps[0].pull.delete_source
    assert task.steps[1].retry.max_attempts == 4 and task.steps[1].on_error == "continue"
    assert task.steps[2].retry.max_attempts == 1  # a step is tried once unless it says otherwise
    assert dict(task.params) == {"file": "a.txt", "retries": "3"} and task.on_busy == "queue"
    assert task.schedules[0].name == "relay/0" and task.schedules[0].misfire == "run_once"
    assert config.tasks.max_active_runs == 7 and config.tasks.plan.tier == "gold"
    assert '"glob":"*.csv"' in config.tasks.definitions["relay"]


def test_absent_file_means_no_tasks(tmp_path: Path) -> None:
    folder = _write(tmp_path / "cfg", _base())
    assert load_config(folder, tmp_path).tasks.tasks == {}


def test_every_mistake_is_named_by_file_and_key(tmp_path: Path) -> None:
    bad = {
        "t1": {
            "steps": [
                {"name": "two", "command": {"argv": ["/bin/true"]}, "route": {"vfs": "partners", "path": "/"}},
                {"name": "p", "pull": {"connection": "nope", "vfs": "ghost", "path": "/x"}},
                {"name": "q", "push": {"connection": "partner", "folder": "../up"}},
                {"name": "r", "command": {"argv": ["/bin/true"]}, "on_error": "ignore", "timeot_seconds": 3},
            ],
            "schedules": [
                {"cron": "61 * * * *"},
                {"cron": "* * * * *", "timezone": "Mars/Olympus"},
                {"cron": "0 3 * * *", "params": {"undeclared": "x"}},
            ],
            "on_busy": "wait",
        },
        "t2": {"steps": []},
        "t3": "not a mapping",
    }
    errors = "\n".join(collect_errors(_with(tmp_path, bad, plan={"start_date": "someday"}), tmp_path))
    for expected in (
        "tasks.yaml: tasks.t1.steps[0]: give exactly one of",
        "tasks.yaml: tasks.t1.steps[1].pull.connection: unknown connection 'nope'",
        "tasks.yaml: tasks.t1.steps[1].pull.vfs: unknown VFS 'ghost'",
        "tasks.yaml: tasks.t1.steps[2].push.folder: invalid remote folder",
        "tasks.yaml: tasks.t1.steps[3].on_error: unknown error policy 'ignore'",
        "tasks.yaml: tasks.t1.steps[3].timeot_seconds: unknown key. Did you mean 'timeout_seconds'?",
        "tasks.yaml: tasks.t1.schedules[0].cron: invalid cron expression '61 * * * *'",
        "tasks.yaml: tasks.t1.schedules[1].timezone: unknown IANA time zone 'Mars/Olympus'",
        "tasks.yaml: tasks.t1.on_busy: unknown busy policy 'wait'",
        "tasks.yaml: tasks.t1.schedules[2].params.undeclared: the task has no parameter 'undeclared'",
        "tasks.yaml: tasks.t2.steps: must list at least one step",
        "tasks.yaml: tasks.t3: expected a task",
        "tasks.yaml: plan.start_date: expected a date",
    ):
        assert expected in errors, f"{expected!r} not in:\n{errors}"
