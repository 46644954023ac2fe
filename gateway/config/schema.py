"""The validated configuration, as frozen values.

``gateway/config/loader.py`` builds a :class:`GatewayConfig` from the ``vfs-config/`` folder and
is the only place that knows the YAML layout; everything else reads these dataclasses.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from gateway.core.paths import VirtualPath


class Permission(enum.StrEnum):
    LIST = "list"
    CREATE = "create"
    UPLOAD = "upload"
    DOWNLOAD = "download"
    DELETE = "delete"
    RENAME = "rename"


ActorKind = Literal["partner", "application"]
Protocol = Literal["http", "https"]
Direction = Literal["input", "output", "both"]
HttpServer = Literal["uvicorn", "granian"]
HTTP_SERVERS: tuple[HttpServer, ...] = ("uvicorn", "granian")
MAX_WORKERS = 64


def auto_workers() -> int:
    """``workers: auto``: one per CPU this process may run on (its affinity, as containers and
    ``taskset`` restrict it), at most MAX_WORKERS."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    kind: ActorKind
    description: str = ""


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    actor: str


@dataclass(frozen=True, slots=True)
class User:
    name: str
    actor: str
    password_hash: str = field(repr=False)
    enabled: bool = True
    groups: frozenset[str] = frozenset()
    admin: bool = False  # may use the /admin API (runs of contract actions)


@dataclass(frozen=True, slots=True)
class Storage:
    """A storage location. ``root`` is absolute (relative roots resolve against the data dir)."""

    name: str
    type: Literal["local"]
    root: Path
    durable: bool = True  # fsync file and directory before an upload is acknowledged
    inline_small_reads: bool = True  # objects up to 64 KiB are read on the event loop
    inline_small_writes: bool = True  # ... and, unless durable, written there


@dataclass(frozen=True, slots=True)
class AclEntry:
    """Grants ``permissions`` on ``path`` (and, by inheritance, below it) to a user or a group."""

    path: VirtualPath
    permissions: frozenset[Permission]
    user: str | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True)
class Retention:
    after_put_hours: float | None = None
    after_first_get_hours: float | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    max_file_size: int | None = None  # bytes; None = only the server-wide limit applies


@dataclass(frozen=True, slots=True)
class Folder:
    """A declared virtual path. ``storage`` overrides the VFS's storage for this subtree."""

    path: VirtualPath
    storage: str | None = None


@dataclass(frozen=True, slots=True)
class Vfs:
    name: str
    actor: str
    storage: str
    acl_enabled: bool = True
    folders: tuple[Folder, ...] = ()  # every declared path and, implied, each of its ancestors
    acl: tuple[AclEntry, ...] = ()
    retention: Retention = Retention()
    limits: Limits = Limits()


EventType = Literal["upload", "download", "delete", "metadata", "expire"]
EVENT_TYPES: tuple[EventType, ...] = ("upload", "download", "delete", "metadata", "expire")


@dataclass(frozen=True, slots=True)
class Trigger:
    """When an action runs: on these event types, for paths matching ``path`` (a glob over the
    VFS path, ``*`` = any run of characters within the whole path), with these metadata values."""

    events: frozenset[EventType]
    path: str = "*"
    metadata: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: float = 2.0  # first retry after about this long, doubling each time
    max_backoff_seconds: float = 300.0


@dataclass(frozen=True, slots=True)
class WebhookAction:
    url: str
    headers: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    timeout_seconds: float = 10.0
    secret: str | None = field(default=None, repr=False)  # HMAC-SHA256 key for the signature header


@dataclass(frozen=True, slots=True)
class CommandAction:
    argv: tuple[str, ...]  # argv[0] is an absolute path; {placeholders} expand within one argument
    env: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    cwd: Path | None = None
    timeout_seconds: float = 60.0
    max_output_bytes: int = 65536


@dataclass(frozen=True, slots=True)
class RouteAction:
    vfs: str
    path: VirtualPath  # a declared folder of ``vfs``
    mode: Literal["copy", "move"] = "copy"


@dataclass(frozen=True, slots=True)
class Action:
    name: str  # unique within its contract
    kind: Literal["webhook", "command", "route"]
    trigger: Trigger
    webhook: WebhookAction | None = None
    command: CommandAction | None = None
    route: RouteAction | None = None
    params: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    retry: RetryPolicy = RetryPolicy()
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Contract:
    """Binds an actor (optionally narrowed to one user or group) on a protocol to a VFS subtree."""

    name: str
    actor: str
    protocol: Protocol
    vfs: str
    path: VirtualPath = VirtualPath()
    user: str | None = None
    group: str | None = None
    direction: Direction = "both"
    metadata: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    enabled: bool = True
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True, slots=True)
class ServerConfig:
    session_idle_seconds: int = 1800
    session_absolute_seconds: int = 43200
    trusted_proxies: tuple[str, ...] = ()  # IPs or CIDR networks whose X-Forwarded-* are believed
    max_upload_bytes: int | None = None  # server-wide cap on one file; None = unlimited
    max_metadata_bytes: int = 65536
    cookie_samesite: Literal["lax", "strict", "none"] = "lax"
    dispatch_concurrency: int = 8  # contract-action runs executing at once in this process
    dispatch_poll_seconds: float = 1.0  # how often idle peers look for due runs
    expiry_sweep_seconds: float = 60.0  # how often retention is enforced; 0 = never
    # True: each catalog commit is on disk before the request is answered (SQLite synchronous=FULL,
    # PostgreSQL synchronous_commit on). False survives a gateway crash but may lose the last
    # commits on power loss, for several times the small-file rate.
    catalog_durable: bool = True
    # The ASGI server ``mft-gateway serve`` runs the app in (``--http-server`` overrides it):
    # uvicorn, or granian, whose ``http.response.pathsend`` lets a whole-file download be sent
    # by the server from the file instead of in chunks through the event loop.
    http_server: HttpServer = "uvicorn"
    # Processes serving the port (``--workers`` overrides it). Each is a whole gateway (its own
    # event loop, catalog connections and dispatcher) on a SO_REUSEPORT listener of the same
    # port, under one supervising ``serve`` process: small-file rates scale with the cores.
    # ``auto`` in the file is resolved at load (auto_workers).
    workers: int = 1
    # Connection limits (gateway.connguard, gateway.http.deadline; docs/api.md "Limits").
    request_head_seconds: float = 10.0  # request line + headers must arrive within this
    body_idle_seconds: float = 60.0  # an upload with no body byte for this long ends (408)
    keep_alive_seconds: float = 5.0  # idle kept-alive connections are closed after this
    max_connections_per_address: int = 128  # open connections from one client address; 0 = no cap
    max_header_bytes: int = 32 * 1024  # request line + headers


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    source: Path
    actors: MappingProxyType[str, Actor]
    groups: MappingProxyType[str, Group]
    users: MappingProxyType[str, User]
    storages: MappingProxyType[str, Storage]
    vfs: MappingProxyType[str, Vfs]
    contracts: tuple[Contract, ...]
    server: ServerConfig = ServerConfig()
