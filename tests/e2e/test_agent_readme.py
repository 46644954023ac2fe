"""The README's "Agents" walk-through, run as printed against the demo configuration. Only the
port, the local folder and the wait change: the scheduler's test minute
(``GATEWAY_TEST_SCHEDULE_MINUTE_SECONDS``) makes the demo's ``* * * * *`` job tick every 3 s."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Gateway, running
from tests.e2e.test_agent_seed_curl import demo_config

README = Path(__file__).resolve().parents[2] / "README.md"


def agents_block() -> str:
    text = README.read_text()
    section = text[text.index("\n## Agents\n") :]
    return section[section.index("```sh\n") + 6 : section.index("\n```", section.index("```sh\n"))]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    env = {"GATEWAY_TEST_SCHEDULE_MINUTE_SECONDS": "3"}
    with running(Gateway(root=tmp_path_factory.mktemp("gw-readme"), config=demo_config(), env=env)) as gw:
        yield gw


def test_the_readme_agents_walk_through_moves_the_file(gateway: Gateway, tmp_path: Path) -> None:
    block = agents_block()
    assert "sleep 70" in block and "http://127.0.0.1:8080" in block and "/tmp/agent-out" in block
    script = (
        block.replace("http://127.0.0.1:8080", gateway.url)
        .replace("sleep 70", "sleep 15")
        .replace("/tmp/agent-out", str(tmp_path / "agent-out"))
    )
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    listing = done.stdout.rsplit("\n", 1)[-1] if done.stdout else ""
    assert '"progress":100' in done.stdout and '"status":"completed"' in done.stdout, done.stdout
    assert '"name":"invoice-42.txt"' in done.stdout, listing
    assert "stopped after" in done.stderr  # kill %1 is a SIGTERM: the agent exits cleanly
