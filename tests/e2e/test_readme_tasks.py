"""The README's "Tasks and schedules" curl walk-through, run as printed against the demo
configuration (vfs-config/). Only the base URL changes: the test's gateway listens on a free port
instead of 8080. Each command's answer is checked against what the README says it shows."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.harness import Gateway

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def walkthrough() -> str:
    """The first ``sh`` block of the README's "Tasks and schedules" section."""
    section = ROOT.joinpath("README.md").read_text().split("## Tasks and schedules", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match is not None, "no sh block in the README's Tasks and schedules section"
    return match.group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_tasks_walkthrough_runs_as_printed(tmp_path: Path) -> None:
    gw = Gateway(root=tmp_path, config={})
    gw.config_dir.mkdir(parents=True)
    for source in (ROOT / "vfs-config").glob("*.yaml"):
        shutil.copy(source, gw.config_dir / source.name)
    gw.start()
    try:
        script = walkthrough().replace("http://127.0.0.1:8080", gw.url)
        # Every command's output on its own line, so each answer can be found.
        work = tmp_path / "walk"
        work.mkdir()
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script.replace("\ncurl ", "\necho; curl ")],
            cwd=work, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        answers = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        statuses = [a for a in answers if "StatusCode" in a]
        assert statuses[0]["StatusCode"] == "Finished", statuses
        assert statuses[0]["Message"] == "publish: Finished (1 attempt(s)); log: Finished (1 attempt(s))"
        assert statuses[-1]["StatusCode"] == "Canceled" and statuses[-1]["Message"] == "Aborted by ops-bot: demo"
        run = next(a for a in answers if "taskRunStatus" in a.get("status", {}))
        assert run["status"]["taskRunStatus"] == "success" and run["params"]["label"] == "walk-through"
        assert "hello from the walk-through" in done.stdout  # the published copy, downloaded from /out
        tasks = next(a for a in answers if "tasks" in a)
        assert {t["name"] for t in tasks["tasks"]} >= {"acme-publish", "nap"}
        schedules = next(a for a in answers if "schedules" in a)
        assert [s["name"] for s in schedules["schedules"]] == ["acme-publish/nightly"]
    finally:
        gw.stop()
