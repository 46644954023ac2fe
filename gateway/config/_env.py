"""``${ENV_VAR}`` substitution in configuration strings.

Secrets (password hashes, storage locations that differ per host) must not be committed with
the configuration, so any string value may reference the environment as ``${NAME}``; write
``$${`` for a literal ``${``. Substitution runs on the parsed YAML tree, before validation, and
applies to values only (never to keys), so the result is always a string. A reference to an
unset variable is a configuration error naming the file and key; the value then becomes
:data:`~gateway.config._fields.BROKEN` so that it does not cause a second, confusing error. The
variable's value never appears in a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gateway.config._fields import BROKEN, Cursor

_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")


def substitute(value: object, cur: Cursor, env: Mapping[str, str]) -> object:
    """Return ``value`` with every ``${NAME}`` in its strings replaced from ``env``."""
    if isinstance(value, str):
        return _expand(value, cur, env)
    if isinstance(value, dict):
        return {key: substitute(item, cur.at(str(key)), env) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, cur.at(i), env) for i, item in enumerate(value)]
    return value


def _expand(text: str, cur: Cursor, env: Mapping[str, str]) -> object:
    if "${" not in text:
        return text
    failed = False

    def replace(match: re.Match[str]) -> str:
        nonlocal failed
        name = match.group(1)
        if match.group(0) == "$${":
            return "${"
        if name is None:
            cur.error(
                "malformed '${' reference. Hint: write ${NAME} with NAME made of letters, digits and '_', "
                "or $${ for a literal '${'"
            )
        elif name not in env:
            cur.error(f"environment variable {name!r} is not set. Hint: export it before starting the gateway")
        else:
            return env[name]
        failed = True
        return ""

    result = _REFERENCE.sub(replace, text)
    return BROKEN if failed else result
