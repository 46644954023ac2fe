"""``/admin/tasks`` and ``/admin/schedules``: the task definitions in force and each schedule's
next and last fire times (``runs:read``), in the admin API's envelope."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.core import scheduler, tasks
from gateway.core.timefmt import iso_ms, iso_now
from gateway.http.credentials import require
from gateway.http.envelope import json_response


async def list_tasks(request: Request) -> Response:
    rt, _ = await require(request, "runs:read")
    body = [
        {"name": t.name, "version": t.version, "origin": t.origin, "createdAt": iso_ms(t.created_at),
         "definition": shown}
        for t, shown in await tasks.definitions(rt)
    ]  # fmt: skip
    return json_response({"result": "ok", "timestamp": iso_now(), "tasks": body})


async def list_schedules(request: Request) -> Response:
    rt, _ = await require(request, "runs:read")
    body = [
        {
            "name": v.schedule.name,
            "task": v.schedule.task,
            "cron": v.schedule.cron,
            "timezone": v.schedule.timezone,
            "enabled": v.schedule.enabled,
            "misfire": v.schedule.misfire,
            "nextFireAt": iso_ms(v.next_fire),
            "lastFireAt": iso_ms(v.last_fire),
            "lastRunId": None if not v.last_run else str(v.last_run),
        }
        for v in await scheduler.views(rt)
    ]
    return json_response({"result": "ok", "timestamp": iso_now(), "schedules": body})


ROUTES: list[BaseRoute] = [
    Route("/admin/tasks", list_tasks, methods=["GET"], name="admin:tasks"),
    Route("/admin/schedules", list_schedules, methods=["GET"], name="admin:schedules"),
]
