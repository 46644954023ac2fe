"""The ``{placeholder}`` fields of a command action's argv.

Each argv entry is a template expanded per run, within that one argument (never split into
more). The syntax is :meth:`str.format`'s without conversions or format specs: ``{{`` and ``}}``
are literal braces and a field is everything between a ``{`` and the next ``}``. A field is one
of :data:`ARGV_PLACEHOLDERS` or ``{param.<name>}`` (the action's ``params``, or a run's own).
The loader checks every field so that a typo fails at startup, not at the first event.
"""

from __future__ import annotations

import re

from gateway.config._fields import listing

ARGV_PLACEHOLDERS = (
    "path",  # the file's VFS path: /inbox/a.txt
    "name",  # its name: a.txt
    "folder",  # its folder's VFS path: /inbox
    "vfs",
    "fileset",
    "event_id",
    "event_type",
    "sha256",
    "size",
    "user",
    "actor",
    "contract",
    "action",
    "run_id",
    "attempt",
)
PARAM_PREFIX = "param."
PARAM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.]*")  # what gateway.core.actions.expand fills in
PLACEHOLDER_HINT = (
    f"use one of {listing(['{' + p + '}' for p in ARGV_PLACEHOLDERS])} or {{param.<name>}}; "
    "write {{ and }} for literal braces"
)
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def argv_fields(text: str) -> list[str]:
    """The field names in one argv entry, in order; ``ValueError`` for a lone brace."""
    fields: list[str] = []
    for match in _FIELD.finditer(text):
        if match.group(0) in ("{{", "}}"):
            continue
        if match.group(1) is None:
            raise ValueError(f"a lone {match.group(0)!r}")
        fields.append(match.group(1))
    return fields


def template_problem(text: str) -> str | None:
    """Why ``text`` is not a valid argv template (without quoting it), or ``None``."""
    try:
        fields = argv_fields(text)
    except ValueError as exc:
        return f"{exc} (not part of a {{placeholder}})"
    for field in fields:
        param = field.removeprefix(PARAM_PREFIX) if field.startswith(PARAM_PREFIX) else None
        if field not in ARGV_PLACEHOLDERS and (param is None or PARAM_NAME.fullmatch(param) is None):
            return f"unknown placeholder {'{' + field + '}'!r}"
    return None
