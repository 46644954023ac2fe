"""A pipeline's YAML text read with positions, so every problem the task parser reports can be
shown at its line and column.

The parser (:func:`gateway.config._tasks.parse_definition`) names a problem by key path
(``steps[1].pull.connection``); :func:`locate` walks the composed YAML nodes along that path
and answers the position of the deepest node it reaches (the key of a mapping entry, the item
of a list). Unlike the configuration files, ``${ENV}`` references are not expanded: a text sent
through the API must not read the gateway's environment.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from gateway.config.loader import _StrictSafeLoader

ORIGIN = "pipeline"
_PROBLEM = re.compile(
    r"^pipeline: ((?:[A-Za-z0-9_][A-Za-z0-9_-]*|\[\d+\]|\[\"(?:[^\"\\]|\\.)*\"\]|\.)+): (.*)$", re.DOTALL
)
_PART = re.compile(r"\[(\d+)\]|\[(\"(?:[^\"\\]|\\.)*\")\]|([A-Za-z0-9_][A-Za-z0-9_-]*)")


@dataclass(frozen=True, slots=True)
class Problem:
    line: int  # 1-based
    column: int  # 1-based
    path: str  # the key path ("" for the document itself)
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "path": self.path, "message": self.message}


@dataclass(frozen=True, slots=True)
class Parsed:
    data: object  # the document (None when the text is not YAML)
    node: yaml.Node | None
    problems: tuple[Problem, ...]  # syntax errors and duplicate keys


def read(text: str) -> Parsed:
    """Parse ``text``; a syntax error or a duplicate key is a problem with its position."""
    try:
        loader = _StrictSafeLoader(text)  # the reader refuses control characters right here
    except yaml.reader.ReaderError as exc:
        return Parsed(None, None, (_at_offset(text, exc.position, f"invalid YAML: {exc.reason}"),))
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.reader.ReaderError as exc:
        return Parsed(None, None, (_at_offset(text, exc.position, f"invalid YAML: {exc.reason}"),))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        detail = getattr(exc, "problem", None) or getattr(exc, "context", None) or " ".join(str(exc).split())
        return Parsed(None, None, (Problem(line, column, "", f"invalid YAML: {detail}"),))
    finally:
        loader.dispose()
    dups = tuple(
        Problem(line, 1, "", f"duplicate key {key!r} (YAML would silently keep only the last one)")
        for line, key in loader.duplicates
    )
    return Parsed(data, node, dups)


def _at_offset(text: str, offset: int, message: str) -> Problem:
    before = text[:offset]
    line = before.count("\n") + 1
    return Problem(line, offset - (before.rfind("\n") + 1) + 1, "", message)


def locate(node: yaml.Node | None, problem: str) -> Problem:
    """A parser problem (``pipeline: <path>: <message>``) with the position of its node."""
    found = _PROBLEM.match(problem)
    if found is None:
        message = problem.removeprefix(f"{ORIGIN}: ")
        line, column = _mark(node)
        return Problem(line, column, "", message)
    path, message = found.group(1), found.group(2)
    return Problem(*_mark(_walk(node, path)), path, message)


def _mark(node: yaml.Node | None) -> tuple[int, int]:
    if node is None:
        return 1, 1
    return node.start_mark.line + 1, node.start_mark.column + 1


def _walk(node: yaml.Node | None, path: str) -> yaml.Node | None:
    """The deepest node along ``path``: the key node of the last mapping entry reached (where
    an operator looks), the item of a list."""
    current, at = node, node
    for index, quoted, plain in _PART.findall(path):
        if current is None:
            break
        if index and isinstance(current, yaml.SequenceNode):
            position = int(index)
            if position >= len(current.value):
                break
            current = at = current.value[position]
        elif (quoted or plain) and isinstance(current, yaml.MappingNode):
            key = _unquote(quoted) if quoted else plain
            entry = next((pair for pair in current.value if pair[0].value == key), None)
            if entry is None:
                break
            at, current = entry[0], entry[1]
        else:
            break
    return at


def _unquote(quoted: str) -> str:
    value = json.loads(quoted)
    return value if isinstance(value, str) else quoted
