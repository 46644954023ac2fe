"""The agent's checkpoint file: ``<state-dir>/agent-state.json``.

Why a file and not memory: a killed agent (``kill -9``, a reboot) must finish the run it claimed
and the file it was moving, not start them again (that would duplicate transfer rows, and for a
non-atomic destination, files). Every write goes to a temporary file that is fsynced and then
renamed over the old one, so a crash at any instant leaves either the old or the new state,
never a torn one. The file holds the enrolled API key, so it is created mode 0600.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FILE_NAME = "agent-state.json"


class StateFile:
    """A JSON object persisted atomically; ``data`` is the live copy, ``save()`` checkpoints it."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME
        self.data: dict[str, Any] = {}

    def load(self) -> dict[str, Any]:
        """Read the file if it exists (a missing file is an empty state); a corrupt one raises
        ``ValueError`` naming the file, because guessing could repeat or lose a transfer."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.data = {}
            return self.data
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{self.path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"{self.path}: expected a JSON object")
        self.data = loaded
        return self.data

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{FILE_NAME}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self.data, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)

    def run(self) -> dict[str, Any] | None:
        """The claimed run being worked on, if any."""
        run = self.data.get("run")
        return run if isinstance(run, dict) else None

    def set_run(self, run: dict[str, Any] | None) -> None:
        if run is None:
            self.data.pop("run", None)
        else:
            self.data["run"] = run
        self.save()
