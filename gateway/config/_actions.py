"""``contracts.yaml``: a contract's ``actions`` -- what runs when a file event matches.

Each action has a ``name`` (unique within its contract), a trigger (``on``: event types;
``path``: a glob over the VFS path; ``metadata``: values the file must carry), optional
``params`` and ``retry``, and exactly one of ``webhook``, ``command``, ``route`` or ``task`` (the
name of a task of tasks.yaml, started with ``params`` as its overrides), which decides
:attr:`Action.kind`. A command's argv may use ``{placeholder}`` fields (see ``_templates``). A
route may target any actor's VFS: routing one partner's upload into another partner's outbox is
its purpose. Header values, environment values, the webhook URL and its secret are never shown
in a message: they may carry tokens.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Literal
from urllib.parse import urlsplit

from gateway.config._fields import BROKEN, Fields, check_name, listing, lookup, pick, type_name
from gateway.config._maps import string_pairs
from gateway.config._templates import PARAM_NAME, PLACEHOLDER_HINT, template_problem
from gateway.config.schema import (
    EVENT_TYPES,
    Action,
    CommandAction,
    Contract,
    EventType,
    RetryPolicy,
    RouteAction,
    Task,
    Trigger,
    Vfs,
    WebhookAction,
)
from gateway.core.paths import VirtualPath

ActionKind = Literal["webhook", "command", "route", "task"]
_KINDS: tuple[ActionKind, ...] = ("webhook", "command", "route", "task")
_ACTION_KEYS = ("name", "on", "path", "metadata", "params", "retry", "enabled", *_KINDS)
_RETRY_KEYS = ("max_attempts", "backoff_seconds", "max_backoff_seconds")
_WEBHOOK_KEYS = ("url", "headers", "timeout_seconds", "secret")
_COMMAND_KEYS = ("argv", "env", "cwd", "timeout_seconds", "max_output_bytes")
_ROUTE_KEYS = ("vfs", "path", "mode")
_MODES: tuple[Literal["copy", "move"], ...] = ("copy", "move")
_WEBHOOK_DEFAULTS = WebhookAction(url="")
_COMMAND_DEFAULTS = CommandAction(argv=())

MAX_OUTPUT_BYTES = 16 * 2**20
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token


def parse_actions(f: Fields, vfss: Mapping[str, Vfs] | None) -> tuple[Action, ...]:
    """The ``actions`` of the contract ``f``; ``vfss is None``: vfs.yaml failed, skip route checks."""
    actions: list[Action] = []
    names: dict[str, str] = {}
    for acur, body in f.items("actions"):
        if not isinstance(body, dict):
            if body is not BROKEN:
                acur.error(f"expected an action (a mapping with 'name', 'on', ...), got {type_name(body)}")
            continue
        a = Fields(acur, body, allowed=_ACTION_KEYS, required=("name", "on"))
        name = a.text("name")
        name = None if name is None else check_name(a.at("name"), name, "action name")
        if name is not None and name in names:
            a.at("name").error(f"duplicate action name {name!r} in this contract (first used by {names[name]})")
        elif name is not None:
            names[name] = acur.key
        given = [kind for kind in _KINDS if a.has(kind)]
        if len(given) != 1:
            got = " and ".join(repr(kind) for kind in given) if given else "none"
            acur.error(
                f"give exactly one of 'webhook', 'command', 'route' or 'task' (it decides what the action does); "
                f"got {got}"
            )
        trigger = Trigger(
            events=_events(a),
            path=_glob(a),
            metadata=MappingProxyType({key: value for key, value, _ in string_pairs(a, "metadata", "metadata")}),
        )
        action = Action(
            name=name or "",
            kind=given[0] if given else "webhook",
            trigger=trigger,
            webhook=_webhook(a) if a.has("webhook") else None,
            command=_command(a) if a.has("command") else None,
            route=_route(a, vfss) if a.has("route") else None,
            params=_params(a),
            retry=_retry(a),
            enabled=a.flag("enabled", True),
            task=_task_name(a) if a.has("task") else None,
        )
        if name is not None and len(given) == 1:
            actions.append(action)
    return tuple(actions)


def _task_name(a: Fields) -> str | None:
    """``task``: the name of a task of tasks.yaml (checked against it by the loader)."""
    name = a.text("task")
    return None if name is None else check_name(a.at("task"), name, "task name")


def _events(a: Fields) -> frozenset[EventType]:
    events: set[EventType] = set()
    for text, ecur in a.strings("on", what="event type"):
        found = pick(ecur, text, EVENT_TYPES, what="event type")
        if found is not None:
            events.add(found)
    if a.get("on") == []:
        a.at("on").error(f"must list at least one event type. Hint: choose from: {listing(EVENT_TYPES)}")
    return frozenset(events)


def _glob(a: Fields) -> str:
    pattern = a.text("path")
    if pattern is None:
        return "*"
    if (pattern != "*" and not pattern.startswith("/")) or _has_control(pattern):
        a.at("path").error(
            f"invalid path pattern {pattern!r}: it must start with '/' (or be '*', any path) and contain no "
            "control characters. Hint: e.g. \"/inbox/*.xml\"; '*' also matches across '/'"
        )
        return "*"
    return pattern


def _params(a: Fields) -> MappingProxyType[str, str]:
    params: dict[str, str] = {}
    for name, value, pcur in string_pairs(a, "params", "parameter"):
        if PARAM_NAME.fullmatch(name) is None:
            pcur.error(
                f"invalid parameter name {name!r}. Hint: use letters, digits, '_' and '.' "
                "(argv refers to it as {param.<name>})"
            )
        else:
            params[name] = value
    return MappingProxyType(params)


def _retry(a: Fields) -> RetryPolicy:
    r, defaults = Fields(a.at("retry"), a.get("retry"), allowed=_RETRY_KEYS), RetryPolicy()
    reported = len(r.cur.problems)
    attempts = r.whole("max_attempts", defaults.max_attempts, 1, 100)
    backoff = r.seconds("backoff_seconds", defaults.backoff_seconds)
    longest = r.seconds("max_backoff_seconds", defaults.max_backoff_seconds)
    if len(r.cur.problems) == reported and longest < backoff:
        if r.has("max_backoff_seconds"):
            r.at("max_backoff_seconds").error(
                f"the longest backoff ({longest:g}s) is shorter than the first one (backoff_seconds: {backoff:g}s)"
            )
        else:
            r.at("backoff_seconds").error(
                f"the first backoff ({backoff:g}s) is longer than max_backoff_seconds ({longest:g}s, the default). "
                "Hint: raise max_backoff_seconds too"
            )
    return RetryPolicy(max_attempts=attempts, backoff_seconds=backoff, max_backoff_seconds=longest)


def _webhook(a: Fields) -> WebhookAction:
    w = Fields(a.at("webhook"), a.get("webhook"), allowed=_WEBHOOK_KEYS, required=("url",))
    url = w.text("url")
    problem = None if url is None else url_problem(url)
    if problem is not None:
        w.at("url").error(f"invalid webhook URL: {problem}. Hint: e.g. https://erp.example/hooks/mft")
    headers = parse_headers(w)
    secret = w.text("secret")
    if secret == "":
        w.at("secret").error("must not be empty. Hint: leave 'secret' out to send unsigned requests")
    return WebhookAction(
        url=url or "",
        headers=MappingProxyType(headers),
        timeout_seconds=w.seconds("timeout_seconds", _WEBHOOK_DEFAULTS.timeout_seconds, most=600),
        secret=secret or None,
    )


def parse_headers(f: Fields) -> dict[str, str]:
    """``f.headers``: HTTP header names and values (values never shown in a message)."""
    headers: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name, value, hcur in string_pairs(f, "headers", "header"):
        if _HEADER_NAME.fullmatch(name) is None:
            hcur.error(f"invalid header name {name!r}: use letters, digits and -!#$%&'*+.^_`|~ only")
        elif any(_is_control(c) and c != "\t" for c in value):
            hcur.error("the header value contains a line break or another control character (the value is not shown)")
        elif name.lower() in seen:
            hcur.error(f"header {name!r} is given twice (also as {seen[name.lower()]!r}; names are case-insensitive)")
        else:
            headers[name] = value
            seen[name.lower()] = name
    return headers


def url_problem(url: str) -> str | None:
    """What is wrong with a webhook URL, without quoting it (it may carry a token)."""
    if any(c.isspace() or _is_control(c) for c in url):
        return "it contains spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        return "it cannot be parsed (check the host and the port)"
    if parts.scheme.lower() not in ("http", "https"):
        return "the scheme must be http or https"
    if not parts.hostname:
        return "it has no host"
    return None


def _command(a: Fields) -> CommandAction:
    c = Fields(a.at("command"), a.get("command"), allowed=_COMMAND_KEYS, required=("argv",))
    env: dict[str, str] = {}
    for name, value, ecur in string_pairs(c, "env", "variable"):
        if "=" in name or _has_control(name):
            ecur.error(f"invalid environment variable name {name!r}: it must not contain '=' or control characters")
        elif "\0" in value:
            ecur.error("the value contains a NUL character (the value is not shown)")
        else:
            env[name] = value
    cwd = c.text("cwd")
    if cwd is not None and (not PurePosixPath(cwd).is_absolute() or _has_control(cwd)):
        c.at("cwd").error(f"the working directory must be an absolute path, got {cwd!r}. Hint: e.g. /var/tmp")
        cwd = None
    return CommandAction(
        argv=_argv(c),
        env=MappingProxyType(env),
        cwd=None if cwd is None else Path(cwd),
        timeout_seconds=c.seconds("timeout_seconds", _COMMAND_DEFAULTS.timeout_seconds, most=86400),
        max_output_bytes=_output_limit(c),
    )


def _argv(c: Fields) -> tuple[str, ...]:
    argv: list[str] = []
    items = c.items("argv")
    if c.get("argv") == []:
        c.at("argv").error("must not be empty: argv[0] is the program to run. Hint: e.g. [/usr/local/bin/ingest]")
    for index, (acur, item) in enumerate(items):
        if item is BROKEN:
            continue
        if not isinstance(item, str):
            acur.error(f"expected a string, got {type_name(item)}. Hint: quote it")
            continue
        if index == 0 and not PurePosixPath(item).is_absolute():
            acur.error(f"the program must be an absolute path, got {item!r}. Hint: e.g. /usr/local/bin/ingest")
            continue
        if "\0" in item:
            acur.error("contains a NUL character")
            continue
        problem = template_problem(item)
        if problem is not None:
            acur.error(f"{problem}. Hint: {PLACEHOLDER_HINT}")
            continue
        argv.append(item)
    return tuple(argv)


def _output_limit(c: Fields) -> int:
    value, default = c.get("max_output_bytes"), _COMMAND_DEFAULTS.max_output_bytes
    if not isinstance(value, bool) and value in (0, "0"):
        return 0  # keep no output at all
    size = c.size("max_output_bytes", default)
    if size is not None and size > MAX_OUTPUT_BYTES:
        c.at("max_output_bytes").error(f"at most 16MiB ({MAX_OUTPUT_BYTES} bytes) is kept, got {size} bytes")
        return MAX_OUTPUT_BYTES
    return default if size is None else size


def _route(a: Fields, vfss: Mapping[str, Vfs] | None) -> RouteAction:
    r = Fields(a.at("route"), a.get("route"), allowed=_ROUTE_KEYS, required=("vfs", "path"))
    name = r.text("vfs") or ""
    vfs = lookup(r.at("vfs"), name, vfss, "VFS", "VFSs") if name else None
    path = r.path("path")
    if vfs is not None and path is not None and not path.is_root and path not in {d.path for d in vfs.folders}:
        folders = listing(["/", *(str(d.path) for d in vfs.folders)])
        r.at("path").error(f"'{path}' is not a folder of VFS {vfs.name!r}. Hint: its folders are: {folders}")
    return RouteAction(vfs=name, path=path or VirtualPath(), mode=r.choice("mode", _MODES, "copy", what="mode"))


def _is_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc"


def _has_control(text: str) -> bool:
    return any(_is_control(c) for c in text)


def task_action_problems(contracts: Iterable[Contract], tasks: Mapping[str, Task]) -> list[str]:
    """An action naming a task: the task must exist in tasks.yaml and know every one of its params."""
    problems: dict[str, None] = {}
    for contract in contracts:
        for action in contract.actions:
            if action.task is None:
                continue
            where = f"contracts.yaml: contract {contract.name!r}, action {action.name!r}: task"
            task = tasks.get(action.task)
            if task is None:
                known = ", ".join(sorted(tasks)) or "(none)"
                problems[f"{where} {action.task!r} is not defined in tasks.yaml; its tasks: {known}"] = None
                continue
            for key in action.params:
                if key not in task.params:
                    known = ", ".join(task.params) or "(none)"
                    problems[f"{where} {action.task!r} has no parameter {key!r}; its parameters: {known}"] = None
    return list(problems)
