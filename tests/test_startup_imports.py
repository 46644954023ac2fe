"""What a serving process keeps resident: modules that only rarely used features need are imported
when used, not at start (each costs megabytes in every process; bench/README.md, "Workers")."""

from __future__ import annotations

import json
import subprocess
import sys

_LATE = ("asyncssh", "httpx", "jwt", "cryptography", "sqlalchemy.orm", "sqlalchemy.ext.asyncio", "alembic")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_the_app_and_the_server_start_without_the_rarely_used_libraries() -> None:
    loaded = _modules_after(
        "from gateway import cli, serve, workers\n"
        "from gateway.app import create_app\n"
        "from gateway.settings import Settings\n"
        "create_app(Settings.from_env())"
    )
    assert "gateway.app" in loaded
    assert sorted(m for m in loaded if m.split(".")[0] in _LATE or m.startswith(_LATE)) == []


def test_the_supervisor_imports_neither_the_app_nor_the_catalog() -> None:
    loaded = _modules_after("from gateway import workers")
    assert not any(
        m.startswith(("gateway.app", "gateway.catalog", "gateway.config.loader", "sqlalchemy")) for m in loaded
    )
