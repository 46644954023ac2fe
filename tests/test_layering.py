"""Imports flow one way: http → core → storage | catalog | connectors. Checked on the source, not by convention."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gateway"
FORBIDDEN = {
    "core": ("starlette", "uvicorn", "granian", "gateway.http", "sqlalchemy"),
    "storage": ("starlette", "uvicorn", "granian", "sqlalchemy", "gateway.http", "gateway.core", "gateway.catalog"),
    "catalog": ("starlette", "uvicorn", "granian", "gateway.http", "gateway.core"),
    "config": ("starlette", "uvicorn", "granian", "sqlalchemy", "gateway.http", "gateway.catalog"),
    # Remote endpoints know their protocol and the configuration, nothing of the gateway's own storage.
    "connectors": (
        "starlette",
        "uvicorn",
        "granian",
        "sqlalchemy",
        "gateway.http",
        "gateway.catalog",
        "gateway.storage",
    ),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layering_layer_imports_nothing_above_it(layer: str) -> None:
    offenders = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == []


def test_layering_handlers_never_touch_sql_or_files_directly() -> None:
    offenders = []
    for path in sorted((PACKAGE / "http").rglob("*.py")):
        for name in _imports(path):
            if name.startswith(("sqlalchemy", "aiofiles", "gateway.storage.local")):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == []
