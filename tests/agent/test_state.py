"""The agent's checkpoint file and its command line, in process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.agent.jobs import local_files, vfs_side
from gateway.agent.state import FILE_NAME, StateFile


def test_missing_state_is_empty_and_save_is_private_and_atomic(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "st")
    assert state.load() == {} and state.run() is None
    state.data["apiKey"] = "mft_ak_x"
    state.set_run({"jobId": "j", "runId": "r", "done": ["a"]})
    path = tmp_path / "st" / FILE_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text())["run"]["done"] == ["a"]
    assert [p.name for p in path.parent.iterdir()] == [FILE_NAME]  # no temporary file left
    state.set_run(None)
    assert StateFile(tmp_path / "st").load() == {"apiKey": "mft_ak_x"}


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_a_corrupt_state_file_is_refused_naming_the_file(tmp_path: Path, text: str) -> None:
    (tmp_path / FILE_NAME).write_text(text)
    with pytest.raises(ValueError, match=FILE_NAME):
        StateFile(tmp_path).load()


def test_the_agent_exits_2_on_a_corrupt_state_file_before_any_request(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text("{")
    args = [sys.executable, "-m", "gateway", "agent", "--server", "http://127.0.0.1:9", "--state-dir", str(tmp_path)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "not valid JSON" in done.stderr


@pytest.mark.parametrize("value", ["0", "-1", "x", "100000"])
def test_periods_out_of_range_are_usage_errors(value: str) -> None:
    args = [sys.executable, "-m", "gateway", "agent", "--server", "http://x", "--poll-seconds", value]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--poll-seconds" in done.stderr


def test_vfs_side_drops_a_vfs_name_but_keeps_plain_paths() -> None:
    assert vfs_side("partner5:/inbox") == "/inbox"
    assert vfs_side("/inbox") == "/inbox"
    assert vfs_side("C:/data") == "C:/data"  # a drive letter is not a VFS name


def test_local_files_are_sorted_regular_files_without_dot_files(tmp_path: Path) -> None:
    for name in ("b", "a", ".a.mft-part"):
        (tmp_path / name).write_text(name)
    (tmp_path / "sub").mkdir()
    assert local_files(tmp_path) == ["a", "b"]
