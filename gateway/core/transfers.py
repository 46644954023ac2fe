"""Transfers (seed 001): every movement of bytes, listed and filtered through ``/api``.

Agents create and update their own (``POST``/``PATCH /api/transfers``); ``/2.0`` uploads and
downloads and task-run steps are recorded by gateway/core/transfer_log.py. Status moves forward
only: ``pending`` → ``running`` → ``completed`` | ``failed`` | ``cancelled``; a finished transfer
refuses every change (409). Visibility follows :class:`gateway.core.agents.Caller`: another
partner's transfer answers 404, as an unknown one does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from gateway.catalog import transfers as catalog
from gateway.catalog.agents import AgentRecord
from gateway.catalog.transfers import TransferFilter, TransferRecord
from gateway.core.agents import Caller, StateError
from gateway.core.runtime import Runtime
from gateway.core.timefmt import iso_ms, now_us
from gateway.core.transfer_log import new_id
from gateway.errors import InvalidParameterError, NotFoundError

STATUSES = ("pending", "running", "completed", "failed", "cancelled")
FINISHED = frozenset({"completed", "failed", "cancelled"})
DIRECTIONS = ("pull", "push", "upload", "download")
_PROTOCOL = re.compile(r"[a-z][a-z0-9+.-]{0,15}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_TEXT = 4096


@dataclass(frozen=True, slots=True)
class NewTransfer:
    source: str
    destination: str
    direction: str
    protocol: str
    size: int | None
    status: str = "pending"
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """A PATCH: only the fields given (``None``: unchanged)."""

    status: str | None = None
    progress: int | None = None
    bytes_transferred: int | None = None
    speed: int | None = None
    size: int | None = None
    sha256: str | None = None
    error: str | None = None


def check_new(new: NewTransfer) -> None:
    if new.direction not in DIRECTIONS:
        raise InvalidParameterError("direction", f"one of {', '.join(DIRECTIONS)}")
    if not _PROTOCOL.fullmatch(new.protocol):
        raise InvalidParameterError("protocol", "a lower-case scheme name such as sftp, https, s3, local")
    for name, value in (("sourceUrl", new.source), ("destinationPath", new.destination)):
        if not value or len(value) > MAX_TEXT or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise InvalidParameterError(name, f"1-{MAX_TEXT} characters, no control characters")
    if new.status not in ("pending", "running"):
        raise InvalidParameterError("status", "a new transfer is pending or running")
    _check_sha(new.sha256)


def _check_sha(sha256: str | None) -> None:
    if sha256 is not None and not _SHA256.fullmatch(sha256):
        raise InvalidParameterError("sha256", "64 lower-case hexadecimal digits")


def to_wire(t: TransferRecord) -> dict[str, object]:
    return {
        "id": t.id,
        "direction": t.direction,
        "protocol": t.protocol,
        "sourceUrl": t.source,
        "destinationPath": t.destination,
        "size": t.size,
        "bytesTransferred": t.bytes_transferred,
        "progress": t.progress,
        "speed": t.speed,
        "status": t.status,
        "startedAt": iso_ms(t.started_at),
        "endedAt": iso_ms(t.ended_at) if t.ended_at is not None else None,
        "updatedAt": iso_ms(t.updated_at),
        "sha256": t.sha256,
        "agentId": t.agent_id,
        "partner": t.partner,
        "customer": t.owner,
        "runId": t.run_id,
        "error": t.error,
    }


async def create(rt: Runtime, agent: AgentRecord, new: NewTransfer) -> TransferRecord:
    """A transfer an agent reports; written at once (the agent PATCHes it next)."""
    check_new(new)
    now = now_us()
    record = TransferRecord(
        id=new_id(), direction=new.direction, protocol=new.protocol, source=new.source,
        destination=new.destination, size=new.size, bytes_transferred=0, progress=0, speed=0, status=new.status,
        started_at=now, ended_at=None, updated_at=now, sha256=new.sha256, agent_id=agent.id,
        partner=agent.partner, owner=agent.owner, run_id=None, error=None,
    )  # fmt: skip
    await catalog.insert_one(rt.db, record)
    return record


def apply(t: TransferRecord, change: Change, now: int) -> TransferRecord:
    """``t`` after ``change``; raises InvalidParameterError or StateError."""
    if t.status in FINISHED:
        raise StateError(f"Transfer '{t.id}' is {t.status}; it cannot change any more")
    status = t.status if change.status is None else change.status
    if status not in STATUSES:
        raise InvalidParameterError("status", f"one of {', '.join(STATUSES)}")
    if status == "pending" and t.status != "pending":
        raise StateError(f"Transfer '{t.id}' is {t.status}; it cannot go back to pending")
    _check_sha(change.sha256)
    size = t.size if change.size is None else change.size
    done = t.bytes_transferred if change.bytes_transferred is None else change.bytes_transferred
    if size is not None and done > size:
        raise InvalidParameterError("bytesTransferred", f"at most the size ({size})")
    progress = t.progress if change.progress is None else change.progress
    if change.progress is None and size:
        progress = min(100, done * 100 // size)
    if status == "completed":
        progress, done = 100, (size if size is not None and change.bytes_transferred is None else done)
    return replace(
        t, status=status, size=size, bytes_transferred=done, progress=progress,
        speed=t.speed if change.speed is None else change.speed,
        sha256=change.sha256 or t.sha256, error=change.error if change.error is not None else t.error,
        updated_at=now, ended_at=now if status in FINISHED else None,
    )  # fmt: skip


async def update(rt: Runtime, agent: AgentRecord, transfer_id: str, change: Change) -> TransferRecord:
    """An agent's PATCH of one of its own transfers (anyone else's: NotFoundError)."""
    current = await catalog.get(rt.db, transfer_id) if _plausible(transfer_id) else None
    if current is None or current.agent_id != agent.id:
        raise NotFoundError(f"Transfer '{transfer_id[:64]}' not found")
    updated = apply(current, change, now_us())
    if not await catalog.update_if(rt.db, updated, current.status):
        raise StateError(f"Transfer '{transfer_id}' changed meanwhile; read it and retry")
    return updated


def _visible(caller: Caller, t: TransferRecord) -> bool:
    if caller.agent is not None:
        return t.agent_id == caller.agent.id
    return caller.partner is None or caller.partner == t.partner


def _plausible(transfer_id: str) -> bool:
    return 0 < len(transfer_id) <= 36 and transfer_id.isascii() and all(c.isalnum() or c == "-" for c in transfer_id)


async def get(rt: Runtime, caller: Caller, transfer_id: str) -> TransferRecord:
    t = await catalog.get(rt.db, transfer_id) if _plausible(transfer_id) else None
    if t is None or not _visible(caller, t):
        raise NotFoundError(f"Transfer '{transfer_id[:64]}' not found")
    return t


async def page(
    rt: Runtime, caller: Caller, wanted: TransferFilter, page_no: int, limit: int
) -> tuple[list[TransferRecord], int]:
    """The caller's transfers matching ``wanted`` (a partner filter outside the caller's own
    partner matches nothing, rather than telling that partner exists)."""
    if wanted.status is not None and wanted.status not in STATUSES:
        raise InvalidParameterError("status", f"one of {', '.join(STATUSES)}")
    scoped = wanted
    if caller.agent is not None:
        if wanted.agent_id not in (None, caller.agent.id):
            return [], 0
        scoped = replace(wanted, agent_id=caller.agent.id)
    elif caller.partner is not None:
        if wanted.partner not in (None, caller.partner):
            return [], 0
        scoped = replace(wanted, partner=caller.partner)
    return await catalog.page(rt.db, scoped, (page_no - 1) * limit, limit)
