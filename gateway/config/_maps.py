"""Mappings of names to strings: contract metadata, action params, webhook headers, command env.

Operators write ``PRIORITY: 3`` or ``URGENT: true`` and mean the strings ``"3"`` and ``"true"``,
so any scalar value is accepted and turned into text. Values are never shown in a message:
header values and environment entries often carry tokens.
"""

from __future__ import annotations

import datetime

from gateway.config._fields import BROKEN, Cursor, Fields, type_name


def string_pairs(f: Fields, key: str, what: str) -> list[tuple[str, str, Cursor]]:
    """The ``name: value`` pairs of ``f[key]``, each with its cursor; bad entries are reported."""
    value, cur = f.get(key), f.at(key)
    if value is None:
        return []
    if not isinstance(value, dict):
        cur.error(f"expected a mapping of names to values, got {type_name(value)}")
        return []
    result: list[tuple[str, str, Cursor]] = []
    for raw_name, raw_value in value.items():
        kcur = cur.at(str(raw_name))
        name, text = scalar_text(raw_name), scalar_text(raw_value)
        if not name:
            kcur.error(f"a {what} name must be a non-empty string, got {type_name(raw_name)}")
        elif text is None and raw_value is not BROKEN:
            kcur.error(f"expected a string or another scalar value, got {type_name(raw_value)}")
        elif text is not None:
            result.append((name, text, kcur))
    return result


def scalar_text(value: object) -> str | None:
    """A YAML scalar as text (``true``/``false`` for booleans); ``None`` for anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float | datetime.date):
        return str(value)
    return None
