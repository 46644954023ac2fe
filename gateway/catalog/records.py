"""Values the catalog hands out and takes in; never ORM rows or SQLAlchemy types."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.frozen import frozen


@frozen
class FileRecord:
    fileset: int
    vfs: str
    folder: str
    name: str
    storage: str
    storage_key: str
    size: int
    sha256: str
    datatype: str
    correlation_id: str
    description: str
    dst_file_name: str
    put_date: int  # all times: integer microseconds since the epoch, UTC
    creation_time: int
    last_modified_time: int
    first_read_date: int | None
    last_access_time: int | None
    expiry_date: int | None
    actor: str
    uploaded_by: str


@frozen
class NewFile:
    vfs: str
    folder: str
    name: str
    storage: str
    storage_key: str
    size: int
    sha256: str
    datatype: str
    put_date: int
    expiry_date: int | None
    actor: str
    uploaded_by: str
    correlation_id: str = ""
    description: str = ""
    dst_file_name: str = ""


@frozen
class NewRun:
    """A contract action to run for an event, queued in the event's own transaction."""

    contract: str
    action: str
    kind: str
    max_attempts: int
    ordering_key: str  # runs sharing a key execute one after another, in id order
    params: dict[str, str] = field(default_factory=dict)
    manual: bool = False
    task_version: int | None = None  # a task run: contract is "" and action the task's name
    trigger: str = "event"  # event | manual | api | schedule


@frozen
class NewEvent:
    """An event recorded in the same transaction as the change it describes (the outbox)."""

    type: str  # upload | download | delete | metadata | expire
    time: int
    actor: str
    user: str
    vfs: str
    path: str
    protocol: str = ""
    contract: str = ""
    fileset: int | None = None
    size: int | None = None
    sha256: str | None = None
    client_address: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    chain: tuple[str, ...] = ()  # "vfs:/path" of every route hop that led here
    runs: tuple[NewRun, ...] = ()


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: int
    type: str
    time: int
    actor: str
    user: str
    protocol: str
    contract: str
    vfs: str
    path: str
    fileset: int | None
    size: int | None
    sha256: str | None
    client_address: str
    metadata: dict[str, str]
    chain: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: int
    event_id: int
    contract: str
    action: str
    kind: str
    status: str  # Queued | InProgress | Finished | Failed | Canceled
    dead: bool  # Failed after exhausting its attempts (dead-lettered)
    attempts: int
    max_attempts: int
    next_attempt_at: int
    lease_until: int | None
    claimed_by: str | None
    abort_requested: bool
    manual: bool
    params: dict[str, str]
    ordering_key: str
    fileset: int | None
    created_at: int
    started_at: int | None
    finished_at: int | None
    last_error: str
    output: str
    history: list[dict[str, object]]
    task_version: int | None = None
    trigger: str = "event"
    steps: list[dict[str, object]] = field(default_factory=list)  # a task run's per-step state


@dataclass(frozen=True, slots=True)
class SessionRecord:
    user_name: str
    created_at: int
    last_seen: int
    expires_at: int
