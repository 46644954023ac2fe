"""What one attempt of a contract action came to, and what it ran with."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.catalog.records import EventRecord, RunRecord
from gateway.core.actions import event_payload


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    output: str = ""
    error: str = ""
    retryable: bool = True  # False: retrying cannot help (e.g. the source file is gone)


@dataclass(frozen=True, slots=True)
class RunContext:
    run: RunRecord
    event: EventRecord

    def payload(self) -> dict[str, object]:
        body = event_payload(self.event)
        body["run"] = {
            "id": str(self.run.id),
            "contract": self.run.contract,
            "action": self.run.action,
            "attempt": self.run.attempts,
            "params": dict(self.run.params),
        }
        return body

    def values(self) -> dict[str, str]:
        """Placeholder values for command arguments (all strings)."""
        e, r = self.event, self.run
        folder, _, name = e.path.rpartition("/")
        values = {
            "path": e.path,
            "name": name,
            "folder": folder or "/",
            "vfs": e.vfs,
            "fileset": "" if e.fileset is None else str(e.fileset),
            "event_id": str(e.id),
            "event_type": e.type,
            "sha256": e.sha256 or "",
            "size": "" if e.size is None else str(e.size),
            "user": e.user,
            "actor": e.actor,
            "contract": r.contract,
            "action": r.action,
            "run_id": str(r.id),
            "attempt": str(r.attempts),
        }
        values.update({f"param.{k}": v for k, v in r.params.items()})
        return values
