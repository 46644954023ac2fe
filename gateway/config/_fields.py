"""Reading untrusted YAML values while collecting every problem instead of stopping at the first.

An operator fixing a configuration wants the whole list at once, each entry naming the file and
the key path (``contracts[2].vfs``). So nothing here raises: a :class:`Cursor` knows where a
value sits and records problems, and :class:`Fields` offers typed getters over one YAML mapping
that report a wrong value and hand back a default so that parsing can go on. The loader turns
the collected problems into one :class:`~gateway.errors.ConfigurationError` at the end.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from gateway.config._sizes import UNITS_HINT, parse_size
from gateway.core.paths import VirtualPath, parse_config_path
from gateway.errors import InvalidPathError

S = TypeVar("S", bound=str)
T = TypeVar("T")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")


class _Broken:
    """Stands for a value whose problem is already reported (e.g. an unset ``${VAR}``)."""

    def __repr__(self) -> str:
        return "BROKEN"


BROKEN = _Broken()


class Owned(Protocol):
    @property
    def actor(self) -> str: ...


OwnedT = TypeVar("OwnedT", bound=Owned)


def type_name(value: object) -> str:
    """Describe a YAML value's type for a message, never its content (it may be a secret)."""
    if value is None:
        return "an empty value"
    for kind, name in ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string")):
        if isinstance(value, kind):
            return name
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def describe(value: object) -> str:
    """Like :func:`type_name`, but shows numbers and booleans (never strings: maybe secrets)."""
    if isinstance(value, int | float):
        return repr(value).lower() if isinstance(value, bool) else repr(value)
    return type_name(value)


def listing(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "(none)"


@dataclass(frozen=True, eq=False, slots=True)
class Cursor:
    """A position in one configuration file; ``error`` records ``<file>: <key path>: <message>``."""

    problems: list[str]
    file: str
    key: str = ""

    def at(self, key: str | int) -> Cursor:
        if isinstance(key, int):
            part = f"[{key}]"
        elif _PLAIN_KEY.fullmatch(key):
            part = f".{key}" if self.key else key
        else:
            part = f"[{json.dumps(key, ensure_ascii=False)}]"
        return Cursor(self.problems, self.file, self.key + part)

    def error(self, message: str) -> None:
        where = f"{self.file}: {self.key}" if self.key else self.file
        self.problems.append(f"{where}: {message}")


def check_name(cur: Cursor, value: object, what: str = "name") -> str | None:
    """Names are non-empty strings without control characters or surrounding blanks."""
    if value is BROKEN:
        return None
    if not isinstance(value, str):
        cur.error(f"the {what} must be a string, got {type_name(value)}. Hint: quote it")
        return None
    if not value or value != value.strip() or any(unicodedata.category(c) == "Cc" for c in value):
        cur.error(f"invalid {what} {value!r}: it must be non-empty, without control characters or surrounding spaces")
        return None
    return value


def parse_path(cur: Cursor, text: str) -> VirtualPath | None:
    try:
        return parse_config_path(text)
    except InvalidPathError as exc:
        cur.error(f"invalid path {text!r}: {exc.message}")
        return None


def pick(cur: Cursor, value: str, choices: Sequence[S], what: str = "value") -> S | None:
    if value in choices:
        return choices[choices.index(value)]
    cur.error(f"unknown {what} {value!r}. Hint: choose one of: {listing(choices)}")
    return None


def lookup(cur: Cursor, name: str, known: Mapping[str, T] | None, kind: str, plural: str) -> T | None:
    """Resolve a reference; ``known is None`` means its file failed to load (already reported)."""
    if known is None:
        return None
    if name in known:
        return known[name]
    cur.error(f"unknown {kind} {name!r}. Hint: known {plural} are: {listing(list(known))}")
    return None


def lookup_owned(
    cur: Cursor, name: str, known: Mapping[str, OwnedT] | None, kind: str, plural: str, owner: str | None, whose: str
) -> OwnedT | None:
    """Resolve a reference that must belong to actor ``owner`` (``None``: the owner is unknown)."""
    found = lookup(cur, name, known, kind, plural)
    if found is None or owner is None or not found.actor or found.actor == owner:
        return found  # an empty actor: the item's own actor is invalid, and that is reported
    own = [n for n, item in (known or {}).items() if item.actor == owner]
    cur.error(
        f"{kind} {name!r} belongs to actor {found.actor!r}, not to {whose} actor {owner!r}. "
        f"Hint: {owner}'s {plural} are: {listing(own)}"
    )
    return None


class Fields:
    """One YAML mapping with known keys; getters return a default after reporting a bad value.

    ``None`` (an empty YAML value) counts as absent everywhere, so ``key:`` means "the default".
    Required keys that are absent are reported once, here, not by the getters.
    """

    def __init__(self, cur: Cursor, value: object, allowed: Sequence[str], required: Sequence[str] = ()) -> None:
        self.cur = cur
        self._data: dict[str, object] = {}
        if value is BROKEN:
            return
        if value is None:
            value = {}
        if not isinstance(value, dict):
            cur.error(f"expected a mapping, got {type_name(value)}")
            return
        for key, item in value.items():
            if isinstance(key, str) and key in allowed:
                self._data[key] = item
                continue
            same_but_case = [a for a in allowed if a.lower() == str(key).lower()]
            close = same_but_case or difflib.get_close_matches(str(key), allowed, n=1)
            did_you_mean = f"Did you mean {close[0]!r}? " if close else ""
            cur.at(str(key)).error(f"unknown key. {did_you_mean}Hint: allowed keys are: {listing(allowed)}")
        for key in required:
            if self._data.get(key) is None:
                cur.at(key).error("missing required key")

    def at(self, key: str) -> Cursor:
        return self.cur.at(key)

    def get(self, key: str) -> object:
        """The raw value; ``None`` when absent, empty or already reported as broken."""
        value = self._data.get(key)
        return None if value is BROKEN else value

    def has(self, key: str) -> bool:
        """Whether ``key`` was given a value (possibly one already reported as broken)."""
        return key in self._data and self._data[key] is not None

    def text(self, key: str) -> str | None:
        value = self.get(key)
        if value is None or isinstance(value, str):
            return value
        self.at(key).error(f"expected a string, got {type_name(value)}")
        return None

    def choice(self, key: str, choices: Sequence[S], default: S, what: str = "value") -> S:
        value = self.text(key)
        if value is None:
            return default
        found = pick(self.at(key), value, choices, what)
        return default if found is None else found

    def flag(self, key: str, default: bool) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        self.at(key).error(f"expected a boolean (true or false), got {type_name(value)}")
        return default

    def integer(self, key: str, default: int) -> int:
        """A positive whole number (seconds, counts)."""
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        self.at(key).error(f"expected a positive whole number, got {describe(value)}")
        return default

    def whole(self, key: str, default: int, low: int, high: int) -> int:
        """A whole number from ``low`` to ``high`` (inclusive)."""
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        self.at(key).error(f"expected a whole number from {low} to {high}, got {describe(value)}")
        return default

    def seconds(self, key: str, default: float, most: float = math.inf, zero: bool = False) -> float:
        """A finite number of seconds, above 0 (or 0 itself when ``zero``) and at most ``most``."""
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            if (value >= 0 if zero else value > 0) and value <= most:
                return float(value)
        bounds = "of at least 0" if zero else "greater than 0"
        bounds += f" and at most {most:g}" if math.isfinite(most) else ""
        self.at(key).error(f"expected a number of seconds {bounds}, got {describe(value)}")
        return default

    def hours(self, key: str) -> float | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < float("inf"):
            return float(value)
        self.at(key).error(f"expected a positive number of hours, got {describe(value)}")
        return None

    def size(self, key: str, default: int | None) -> int | None:
        value = self.get(key)
        if value is None:
            return default
        try:
            return parse_size(value)
        except ValueError as exc:
            self.at(key).error(f"{exc}. Hint: {UNITS_HINT}")
            return default

    def path(self, key: str) -> VirtualPath | None:
        """A virtual path, the root when absent; ``None`` after reporting an invalid one."""
        value = self.text(key)
        return VirtualPath() if value is None else parse_path(self.at(key), value)

    def items(self, key: str) -> list[tuple[Cursor, object]]:
        """The entries of a YAML list, each with its cursor (``key[3]``)."""
        value = self.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.at(key).error(f"expected a list, got {type_name(value)}")
            return []
        cur = self.at(key)
        return [(cur.at(i), item) for i, item in enumerate(value)]

    def strings(self, key: str, what: str = "name") -> list[tuple[str, Cursor]]:
        """A list of names; invalid ones and repeats are reported and dropped."""
        result: list[tuple[str, Cursor]] = []
        for cur, item in self.items(key):
            name = check_name(cur, item, what)
            if name is None:
                continue
            if any(name == seen for seen, _ in result):
                cur.error(f"{name!r} is listed twice")
                continue
            result.append((name, cur))
        return result

    def entries(self, key: str, what: str = "name") -> list[tuple[str, Cursor, object]]:
        """The entries of a ``name: body`` mapping, each with its cursor (``key.name``)."""
        value = self.get(key)
        if value is None:
            return []
        if not isinstance(value, dict):
            self.at(key).error(f"expected a mapping of {what}s, got {type_name(value)}")
            return []
        cur = self.at(key)
        result: list[tuple[str, Cursor, object]] = []
        for raw, body in value.items():
            name = check_name(cur.at(str(raw)), raw, what)
            if name is not None:
                result.append((name, cur.at(name), body))
        return result
