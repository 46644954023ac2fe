"""Which contract actions an event triggers, and what an action sees of it.

An event in a VFS triggers the actions of every enabled contract bound to that VFS whose
folder contains the event's path — so a file routed into another partner's outbox fires that
partner's contract, not only the one it arrived through. The runs are planned here and queued
in the event's own transaction (the outbox), so no event is ever lost between the change and
its processing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.catalog.records import EventRecord, NewRun
from gateway.config.schema import Action, Contract, GatewayConfig, Task, Trigger
from gateway.core.paths import parse_config_path
from gateway.core.timefmt import iso_ms

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][\w.]*)\}")


@dataclass(frozen=True, slots=True)
class Bound:
    contract: Contract
    actions: tuple[Action, ...]


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


class ActionIndex:
    """Contracts with actions, by VFS; built once from the configuration."""

    def __init__(self, config: GatewayConfig) -> None:
        self._by_vfs: dict[str, list[Bound]] = defaultdict(list)
        self._actions: dict[tuple[str, str], Action] = {}
        self._contracts: dict[str, Contract] = {}
        self._globs: dict[str, re.Pattern[str]] = {}
        self._tasks: dict[str, list[Task]] = defaultdict(list)
        self._task_params = {name: dict(task.params) for name, task in config.tasks.tasks.items()}
        for task in config.tasks.tasks.values():
            if task.trigger is not None:
                self._tasks[task.trigger_vfs].append(task)
                self._globs.setdefault(task.trigger.path, _glob(task.trigger.path))
        seen: set[str] = set()
        for contract in config.contracts:
            for action in contract.actions:
                self._actions[(contract.name, action.name)] = action
                self._globs.setdefault(action.trigger.path, _glob(action.trigger.path))
            if contract.name in seen or not contract.enabled or not contract.actions:
                continue
            seen.add(contract.name)  # one logical contract, whatever protocols it expands to
            self._contracts[contract.name] = contract
            self._by_vfs[contract.vfs].append(Bound(contract, contract.actions))

    def has_actions(self, vfs: str) -> bool:
        return vfs in self._by_vfs or vfs in self._tasks

    def action(self, contract: str, action: str) -> Action | None:
        return self._actions.get((contract, action))

    def contract(self, name: str) -> Contract | None:
        return self._contracts.get(name)

    def plan(self, vfs: str, path: str, event_type: str, metadata: Mapping[str, str]) -> tuple[NewRun, ...]:
        """The runs an event of ``event_type`` on VFS path ``path`` (``/inbox/a.txt``) queues."""
        if vfs not in self._by_vfs and vfs not in self._tasks:
            return ()  # the common case on the hot path: nothing to plan, nothing to parse
        planned: list[NewRun] = []
        vpath = parse_config_path(path)
        for bound in self._by_vfs.get(vfs, ()):
            if not vpath.is_within(bound.contract.path):
                continue
            for action in bound.actions:
                if action.enabled and self.matches(action.trigger, path, event_type, metadata):
                    planned.append(self.run_for(bound.contract.name, action, vfs, path))
        for task in self._tasks.get(vfs, ()):
            assert task.trigger is not None
            if self.matches(task.trigger, path, event_type, metadata):
                planned.append(task_run_for(task, vfs, path))
        return tuple(planned)

    def matches(self, trigger: Trigger, path: str, event_type: str, metadata: Mapping[str, str]) -> bool:
        if event_type not in trigger.events or not self._globs[trigger.path].fullmatch(path):
            return False
        return all(metadata.get(k) == v for k, v in trigger.metadata.items())

    def run_for(self, contract: str, action: Action, vfs: str, path: str, **overrides: str) -> NewRun:
        """The run an action queues: its own (an implicit one-step task, see ``taskrun``), or, for
        an action naming a task, a run of that task with the action's params as overrides."""
        params = dict(action.params)
        params.update(overrides)
        if action.task is not None:
            params = {**self._task_params.get(action.task, {}), **params}
            return NewRun(
                contract=contract, action=action.task, kind="task", max_attempts=1,
                ordering_key=f"{contract}\x1f{vfs}:{path}", params=params, trigger="event",
            )  # fmt: skip
        return NewRun(
            contract=contract,
            action=action.name,
            kind=action.kind,
            max_attempts=action.retry.max_attempts,
            ordering_key=f"{contract}\x1f{vfs}:{path}",
            params=params,
        )


def task_run_for(task: Task, vfs: str, path: str) -> NewRun:
    """A run of ``task`` (its latest version) for a file event: queued in the event's transaction
    like a contract action's run, one file's runs in event order, never refused as busy."""
    return NewRun(
        contract="",
        action=task.name,
        kind="task",
        max_attempts=1,
        ordering_key=f"task\x1f{task.name}\x1f{vfs}:{path}",
        params=dict(task.params),
        trigger="event",
    )


def event_payload(event: EventRecord) -> dict[str, object]:
    """The event as actions receive it (webhook body; command variables). See docs/hooks.md."""
    folder, _, name = event.path.rpartition("/")
    return {
        "id": str(event.id),
        "type": event.type,
        "time": iso_ms(event.time),
        "actor": event.actor,
        "user": event.user,
        "protocol": event.protocol,
        "contract": event.contract,
        "vfs": event.vfs,
        "path": event.path,
        "folder": folder or "/",
        "name": name,
        "fileset": None if event.fileset is None else str(event.fileset),
        "size": event.size,
        "sha256": event.sha256,
        "clientAddress": event.client_address,
        "metadata": dict(event.metadata),
        "routeChain": list(event.chain),
    }


def expand(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders in one argument, in a single pass: a value that itself
    contains ``{...}`` is never expanded again. ``{{``/``}}`` are literal braces."""

    def fill(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return values.get(match.group(1), "")

    return _PLACEHOLDER.sub(fill, template)
