"""``tasks.yaml``: named task definitions, their schedules, and the limits on task runs.

A task is an ordered list of ``steps`` with ``params`` (defaults a run may override). Each step
has a ``name`` and exactly one of ``webhook``, ``command``, ``route`` (the same bodies as a
contract action's, see ``_actions``), ``pull`` or ``push`` (a remote connection of
``connections.yaml``), plus ``retry``, ``timeout_seconds`` and ``on_error``. The same parser
checks a definition sent through the API (:func:`parse_definition`), so a task created at run
time obeys exactly the rules of one in the configuration.

Layout::

    limits: {max_active_runs: 100, run_retention_days: 30}
    plan: {tier: enterprise, start_date: 2026-01-01, end_date: 2026-12-31}   # GET /v1/licenses/current
    tasks:
      <name>:
        description: ...
        params: {name: default}
        input: {vfs: <vfs>, path: "{file}"}   # optional: the first step's input file
        concurrency: 1
        on_busy: refuse | queue
        steps: [...]
        schedules: [{cron: "*/5 * * * *", timezone: Europe/Paris, enabled: true, misfire: skip}]
        trigger: {vfs: <vfs>, on: [upload], path: "/in/*.csv", metadata: {...}}  # file events
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from gateway.config._actions import _command, _events, _glob, _params, _retry, _route, _webhook
from gateway.config._fields import BROKEN, Cursor, Fields, check_name, lookup, type_name
from gateway.config._maps import string_pairs
from gateway.config.schema import (
    Connection,
    Plan,
    PullStep,
    PushStep,
    RetryPolicy,
    Schedule,
    Step,
    StepKind,
    Task,
    TasksConfig,
    Trigger,
    Vfs,
)
from gateway.connectors.base import split_path
from gateway.errors import InvalidPathError

_KINDS: tuple[StepKind, ...] = ("webhook", "command", "route", "pull", "push")
_TASK_KEYS = ("description", "params", "input", "concurrency", "on_busy", "steps", "schedules", "trigger")
_TRIGGER_KEYS = ("vfs", "on", "path", "metadata")
_STEP_KEYS = ("name", "retry", "timeout_seconds", "on_error", *_KINDS)
_PULL_KEYS = ("connection", "folder", "glob", "vfs", "path", "delete_source")
_PUSH_KEYS = ("connection", "folder")
_SCHEDULE_KEYS = ("name", "cron", "timezone", "enabled", "misfire", "params")
_INPUT_KEYS = ("vfs", "path")
_ON_ERROR: tuple[Literal["abort", "continue"], ...] = ("abort", "continue")
_ON_BUSY: tuple[Literal["refuse", "queue"], ...] = ("refuse", "queue")
_MISFIRE: tuple[Literal["skip", "run_once"], ...] = ("skip", "run_once")


def parse_tasks(
    cur: Cursor, data: object, vfss: Mapping[str, Vfs] | None, connections: Mapping[str, Connection] | None
) -> TasksConfig:
    """The tasks of one ``tasks.yaml`` document (``None``: the file is absent)."""
    top = Fields(cur, data, allowed=("tasks", "limits", "plan"))
    tasks: dict[str, Task] = {}
    definitions: dict[str, str] = {}
    for name, tcur, body in top.entries("tasks", what="task name"):
        task = parse_task(tcur, name, body, vfss, connections)
        if task is not None:
            tasks[name] = task
            definitions[name] = canonical(body)
    limits = Fields(top.at("limits"), top.get("limits"), allowed=("max_active_runs", "run_retention_days"))
    defaults = TasksConfig()
    return TasksConfig(
        tasks=MappingProxyType(tasks),
        definitions=MappingProxyType(definitions),
        max_active_runs=limits.whole("max_active_runs", defaults.max_active_runs, 1, 100000),
        run_retention_days=limits.seconds("run_retention_days", defaults.run_retention_days),
        plan=_plan(top),
    )


def _plan(top: Fields) -> Plan:
    p = Fields(top.at("plan"), top.get("plan"), allowed=("tier", "start_date", "end_date"))
    dates: dict[str, str] = {}
    for key in ("start_date", "end_date"):
        value = p.get(key)
        if value is None:
            continue
        text = value.isoformat() if isinstance(value, datetime.date) else str(value)
        try:
            datetime.date.fromisoformat(text)
        except ValueError:
            p.at(key).error(f"expected a date like 2026-01-31, got {text!r}")
            continue
        dates[key] = text
    if dates.get("start_date", "") > dates.get("end_date", "9999"):
        p.at("end_date").error("the plan ends before it starts")
    return Plan(tier=p.text("tier") or "community", **dates)


def canonical(body: object) -> str:
    """The definition as stored with each version: JSON with sorted keys (equal text, same task)."""
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def parse_definition(
    origin: str, name: str, body: object, vfss: Mapping[str, Vfs], connections: Mapping[str, Connection]
) -> tuple[Task | None, list[str]]:
    """Check one definition given outside the configuration (the API); returns it or the problems."""
    problems: list[str] = []
    task = parse_task(Cursor(problems, origin), name, body, vfss, connections)
    return (task if not problems else None), problems


def parse_task(
    cur: Cursor,
    name: str,
    body: object,
    vfss: Mapping[str, Vfs] | None,
    connections: Mapping[str, Connection] | None,
) -> Task | None:
    if not isinstance(body, dict):
        if body is not BROKEN:
            cur.error(f"expected a task (a mapping with 'steps', ...), got {type_name(body)}")
        return None
    t = Fields(cur, body, allowed=_TASK_KEYS, required=("steps",))
    reported = len(cur.problems)
    steps: list[Step] = []
    names: set[str] = set()
    for scur, sbody in t.items("steps"):
        step = _step(scur, sbody, vfss, connections)
        if step is not None and step.name in names:
            scur.at("name").error(f"duplicate step name {step.name!r} in this task")
        elif step is not None:
            names.add(step.name)
            steps.append(step)
    if t.get("steps") == []:
        t.at("steps").error("must list at least one step")
    input_vfs = input_path = None
    if t.has("input"):
        i = Fields(t.at("input"), t.get("input"), allowed=_INPUT_KEYS, required=("vfs", "path"))
        input_vfs = i.text("vfs")
        if input_vfs is not None:
            lookup(i.at("vfs"), input_vfs, vfss, "VFS", "VFSs")
        input_path = i.text("path")
    schedules = [_schedule(name, index, scur, sbody) for index, (scur, sbody) in enumerate(t.items("schedules"))]
    trigger, trigger_vfs = _trigger(t, vfss) if t.has("trigger") else (None, "")
    params = _params(t)
    for index, schedule in enumerate(schedules):
        for key in schedule.params if schedule is not None else ():
            if key not in params:
                t.at("schedules").at(index).at("params").at(key).error(
                    f"the task has no parameter {key!r}. Hint: declare it in the task's params with a default"
                )
    task = Task(
        name=name,
        steps=tuple(steps),
        description=t.text("description") or "",
        params=params,
        input_vfs=input_vfs,
        input_path=input_path,
        concurrency=t.whole("concurrency", 1, 1, 1000),
        on_busy=t.choice("on_busy", _ON_BUSY, "refuse", what="busy policy"),
        schedules=tuple(s for s in schedules if s is not None),
        trigger=trigger,
        trigger_vfs=trigger_vfs,
    )
    return task if len(cur.problems) == reported else None


def _trigger(t: Fields, vfss: Mapping[str, Vfs] | None) -> tuple[Trigger, str]:
    """``trigger: {vfs, on, path, metadata}``: file events that start a run, as a contract
    action's ``on``/``path``/``metadata`` (the same checks)."""
    g = Fields(t.at("trigger"), t.get("trigger"), allowed=_TRIGGER_KEYS, required=("vfs", "on"))
    vfs = g.text("vfs") or ""
    if vfs:
        lookup(g.at("vfs"), vfs, vfss, "VFS", "VFSs")
    trigger = Trigger(
        events=_events(g),
        path=_glob(g),
        metadata=MappingProxyType({key: value for key, value, _ in string_pairs(g, "metadata", "metadata")}),
    )
    return trigger, vfs


def _step(
    cur: Cursor, body: object, vfss: Mapping[str, Vfs] | None, connections: Mapping[str, Connection] | None
) -> Step | None:
    if not isinstance(body, dict):
        if body is not BROKEN:
            cur.error(f"expected a step (a mapping with 'name' and one of {', '.join(_KINDS)}), got {type_name(body)}")
        return None
    s = Fields(cur, body, allowed=_STEP_KEYS, required=("name",))
    name = check_name(s.at("name"), s.get("name"), "step name") if s.has("name") else None
    given = [kind for kind in _KINDS if s.has(kind)]
    if len(given) != 1:
        got = " and ".join(repr(kind) for kind in given) if given else "none"
        cur.error(
            f"give exactly one of {', '.join(repr(k) for k in _KINDS)} (it decides what the step does); got {got}"
        )
        return None
    kind = given[0]
    retry = _retry(s) if s.has("retry") else RetryPolicy(max_attempts=1)
    step = Step(
        name=name or "",
        kind=kind,
        webhook=_webhook(s) if kind == "webhook" else None,
        command=_command(s) if kind == "command" else None,
        route=_route(s, vfss) if kind == "route" else None,
        pull=_pull(s, vfss, connections) if kind == "pull" else None,
        push=_push(s, connections) if kind == "push" else None,
        retry=retry,
        timeout_seconds=s.seconds("timeout_seconds", 3600.0, most=7 * 86400),
        on_error=s.choice("on_error", _ON_ERROR, "abort", what="error policy"),
    )
    return step if name else None


def _remote_folder(f: Fields, key: str) -> str:
    folder = f.text(key) or ""
    try:
        split_path(folder)
    except InvalidPathError as exc:
        f.at(key).error(f"invalid remote folder: {exc.message}")
    return folder


def _pull(s: Fields, vfss: Mapping[str, Vfs] | None, connections: Mapping[str, Connection] | None) -> PullStep:
    p = Fields(s.at("pull"), s.get("pull"), allowed=_PULL_KEYS, required=("connection", "vfs", "path"))
    connection = p.text("connection") or ""
    if connection:
        lookup(p.at("connection"), connection, connections, "connection", "connections")
    target = _route(_Renamed(p), vfss)  # the same checks as a route's target folder
    return PullStep(
        connection=connection,
        folder=_remote_folder(p, "folder"),
        glob=p.text("glob") or "*",
        vfs=target.vfs,
        path=target.path,
        delete_source=p.flag("delete_source", False),
    )


def _push(s: Fields, connections: Mapping[str, Connection] | None) -> PushStep:
    p = Fields(s.at("push"), s.get("push"), allowed=_PUSH_KEYS, required=("connection",))
    connection = p.text("connection") or ""
    if connection:
        lookup(p.at("connection"), connection, connections, "connection", "connections")
    return PushStep(connection=connection, folder=_remote_folder(p, "folder"))


class _Renamed(Fields):
    """A pull body seen as a route body (``vfs``/``path``), to reuse the route target checks."""

    def __init__(self, p: Fields) -> None:
        body = {k: p.get(k) for k in ("vfs", "path") if p.has(k)}
        super().__init__(p.cur, {"route": body}, allowed=("route",))
        self._cursor = p.cur

    def at(self, key: str) -> Cursor:
        return self._cursor if key == "route" else super().at(key)


def _schedule(task: str, index: int, cur: Cursor, body: object) -> Schedule | None:
    s = Fields(cur, body, allowed=_SCHEDULE_KEYS, required=("cron",))
    reported = len(cur.problems)
    label = s.text("name") or str(index)
    cron = s.text("cron") or ""
    if cron and (len(cron.split()) != 5 or not croniter.is_valid(cron)):
        s.at("cron").error(
            f"invalid cron expression {cron!r}: give 5 fields (minute hour day-of-month month day-of-week). "
            'Hint: e.g. "*/15 * * * *"'
        )
    zone = s.text("timezone") or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        s.at("timezone").error(f"unknown IANA time zone {zone!r}. Hint: e.g. Europe/Paris, America/New_York, UTC")
    params = {k: v for k, v, _ in string_pairs(s, "params", "parameter")}
    schedule = Schedule(
        name=f"{task}/{label}",
        task=task,
        cron=cron,
        timezone=zone,
        enabled=s.flag("enabled", True),
        misfire=s.choice("misfire", _MISFIRE, "skip", what="misfire policy"),
        params=MappingProxyType(params),
    )
    return schedule if len(cur.problems) == reported else None
