"""The configuration both schedule tests start their peers with: an admin user and one task
fired every minute by cron, in a zone with DST."""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import default_config, password_hash


def schedule_config(task: str) -> dict[str, dict[str, Any]]:
    config = default_config()
    config["actors.yaml"]["actors"]["Ops"] = {
        "kind": "application",
        "users": {"root": {"password_hash": password_hash("root"), "admin": True}},
    }
    config["tasks.yaml"] = {
        "tasks": {
            task: {
                "concurrency": 5,
                "steps": [{"name": "hello", "command": {"argv": ["/bin/echo", "tick {run_id}"]}}],
                "schedules": [{"cron": "* * * * *", "timezone": "Europe/Paris"}],
            }
        }
    }
    return config
