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
from typing import TYPE_CHECKING, Literal

from gateway.core.paths import VirtualPath

if TYPE_CHECKING:
    from gateway.core.client_assertion import AssertionKey  # its module imports the runtime


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
    valid_until: int | None = None  # end of the agreement (µs since the epoch, UTC); None = open


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
    admin: bool = False  # legacy spelling of the ``admin`` role (kept working)
    roles: frozenset[str] = frozenset({"partner"})  # see gateway/core/principal.py ROLE_SCOPES
    scopes: frozenset[str] = frozenset({"files:read", "files:write"})  # at most its roles' scopes
    service: bool = False  # a service account: no password login, machine credentials only


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
    kind: Literal["webhook", "command", "route", "task"]
    trigger: Trigger
    webhook: WebhookAction | None = None
    command: CommandAction | None = None
    route: RouteAction | None = None
    params: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    retry: RetryPolicy = RetryPolicy()
    enabled: bool = True
    task: str | None = None  # kind "task": a task of tasks.yaml, started with ``params`` as overrides


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
class DefenderConfig:
    """Brute-force defence (``defender:`` in gateway.yaml; docs/abuse-control.md).

    A failed credential check scores 1 (known account) or 2 (unknown account) against the client
    address and 1 against the claimed account; reaching ``threshold`` (address) or
    ``account_threshold`` (account) within ``observation_seconds`` bans it for ``ban_seconds``;
    every attempt while banned adds ``ban_increment_seconds``, up to ``max_ban_seconds`` after the
    ban began. Addresses in ``safe_list`` (IPs or CIDR networks) are never scored nor refused.
    """

    enabled: bool = True
    threshold: int = 15
    account_threshold: int = 30
    observation_seconds: float = 1800.0
    ban_seconds: float = 1800.0
    ban_increment_seconds: float = 900.0
    max_ban_seconds: float = 86400.0
    safe_list: tuple[str, ...] = ()


RATE_TIERS = ("public", "authenticated", "agent", "transfer")


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """Requests per minute by endpoint class (``rate_limits:`` in gateway.yaml); 0 = unlimited.

    Counted per principal, or per client address for anonymous requests, in fixed one-minute
    windows shared by every peer (each publishes its counts every ``sync_seconds``).
    """

    enabled: bool = True
    public: int = 10
    authenticated: int = 60
    agent: int = 300
    transfer: int = 1200
    sync_seconds: float = 1.0

    def limit(self, tier: str) -> int:
        return int(getattr(self, tier))


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
    defender: DefenderConfig = DefenderConfig()  # gateway.yaml's top-level ``defender:``
    rate_limits: RateLimitConfig = RateLimitConfig()  # gateway.yaml's top-level ``rate_limits:``
    # Machine access (docs/machine-access.md). ``public_url``: the gateway's external base URL,
    # the tokens' issuer and audience and the base of the OAuth metadata; unset = taken from
    # each request. Access tokens from ``POST /token`` last ``token_default_minutes`` unless the
    # client asks for less or more, never more than ``token_max_minutes``; OAuth client tokens
    # last ``oauth_token_minutes``. The signing key is replaced every ``signing_key_rotation_days``
    # (the previous one still verifies until the tokens it signed have expired).
    public_url: str | None = None
    token_default_minutes: int = 60
    token_max_minutes: int = 720
    oauth_token_minutes: int = 60
    signing_key_rotation_days: int = 30
    # private_key_jwt client assertions (docs/machine-access-assertions.md): the longest lifetime
    # (exp - iat, or exp - now without iat) accepted, and the clock skew allowed on exp/nbf/iat.
    client_assertion_max_lifetime_seconds: int = 600
    client_assertion_leeway_seconds: int = 30


@dataclass(frozen=True, slots=True)
class TlsClient:
    """How a connector checks an HTTPS peer and, for mTLS, proves who it is."""

    ca_bundle: Path | None = None  # PEM file of trusted CAs; None: the system's
    client_cert: Path | None = None  # PEM certificate (chain) for mTLS
    client_key: Path | None = None  # its private key (PEM; may be inside client_cert)


@dataclass(frozen=True, slots=True)
class SftpConnection:
    """An SFTP server; its host key must be one of ``host_keys`` (OpenSSH public key lines)."""

    name: str
    host: str
    username: str
    host_keys: tuple[str, ...]
    port: int = 22
    root: str = ""  # remote folder every path is below ("" = the login folder)
    password: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)  # PEM/OpenSSH text (a file's content)
    private_key_passphrase: str | None = field(default=None, repr=False)
    timeout_seconds: float = 30.0  # connecting, and any single remote operation
    chunk_size: int = 256 * 1024
    type: Literal["sftp"] = "sftp"


@dataclass(frozen=True, slots=True)
class HttpsConnection:
    """Plain HTTP(S) URLs: ``{path}`` in a template is the remote path, each segment percent-encoded."""

    name: str
    download_url: str | None = field(default=None, repr=False)
    upload_url: str | None = field(default=None, repr=False)
    delete_url: str | None = field(default=None, repr=False)
    upload_method: Literal["PUT", "POST"] = "PUT"
    headers: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    tls: TlsClient = TlsClient()
    timeout_seconds: float = 30.0
    type: Literal["https"] = "https"


@dataclass(frozen=True, slots=True)
class S3Connection:
    """An S3-compatible bucket; every key is below ``prefix``."""

    name: str
    bucket: str
    endpoint: str | None = None  # None: AWS
    region: str = "us-east-1"
    prefix: str = ""
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    allow_http: bool = False
    part_size: int = 8 * 1024 * 1024  # multipart part size (S3: at least 5 MiB)
    timeout_seconds: float = 30.0
    type: Literal["s3"] = "s3"


@dataclass(frozen=True, slots=True)
class PeerGatewayConnection:
    """Another gateway of ours, spoken to over its /2.0 partner API."""

    name: str
    url: str  # base URL, e.g. https://mft.partner.example
    root: str = ""  # a folder of the remote user's virtual tree
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)  # sent as "Authorization: Bearer <token>"
    api_key: str | None = field(default=None, repr=False)  # sent as "X-API-Key: <key>"
    tls: TlsClient = TlsClient()
    timeout_seconds: float = 30.0
    type: Literal["gateway"] = "gateway"


Connection = SftpConnection | HttpsConnection | S3Connection | PeerGatewayConnection


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
    oauth_clients: MappingProxyType[str, OAuthClient] = field(default_factory=lambda: MappingProxyType({}))
    connections: MappingProxyType[str, Connection] = field(default_factory=lambda: MappingProxyType({}))
    tasks: TasksConfig = field(default_factory=lambda: TasksConfig())
    agents: AgentsConfig = field(default_factory=lambda: AgentsConfig())  # i13a


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """An OAuth 2.0 client (``oauth-clients.yaml``) acting as the service account ``principal``.

    It authenticates with a secret (``secret_hash``, argon2) or with a JWT signed by one of its
    ``keys`` (private_key_jwt); ``scopes`` bound what its tokens may carry."""

    client_id: str
    principal: str
    scopes: frozenset[str]
    secret_hash: str | None = field(default=None, repr=False)
    keys: tuple[AssertionKey, ...] = ()
    enabled: bool = True


# --- Tasks and schedules (tasks.yaml; see gateway/config/_tasks.py and docs/automation.md) ---


@dataclass(frozen=True, slots=True)
class PullStep:
    """Remote ``connection`` folder + glob -> VFS folder; the pulled files go on to the next step."""

    connection: str
    folder: str  # relative to the connection's root
    glob: str
    vfs: str
    path: VirtualPath  # a declared folder of ``vfs``
    delete_source: bool = False


@dataclass(frozen=True, slots=True)
class PushStep:
    """The step's input files -> remote ``connection`` folder ``folder``."""

    connection: str
    folder: str


StepKind = Literal["webhook", "command", "route", "pull", "push"]


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    kind: StepKind
    webhook: WebhookAction | None = None
    command: CommandAction | None = None
    route: RouteAction | None = None
    pull: PullStep | None = None
    push: PushStep | None = None
    retry: RetryPolicy = RetryPolicy(max_attempts=1)
    timeout_seconds: float = 3600.0
    on_error: Literal["abort", "continue"] = "abort"


@dataclass(frozen=True, slots=True)
class Schedule:
    """A 5-field cron expression evaluated in ``timezone``; one run per tick across all peers."""

    name: str  # "<task>/<index or name>": unique, the key of its ticks in the catalog
    task: str
    cron: str
    timezone: str = "UTC"
    enabled: bool = True
    misfire: Literal["skip", "run_once"] = "skip"
    params: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Task:
    """A named definition: ordered steps and parameters with defaults (overridable per run)."""

    name: str
    steps: tuple[Step, ...]
    description: str = ""
    params: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    input_vfs: str | None = None  # the run's first input file: input.vfs + input.path (templated)
    input_path: str | None = None
    concurrency: int = 1  # runs of this task at once (Queued + InProgress)
    on_busy: Literal["refuse", "queue"] = "refuse"
    schedules: tuple[Schedule, ...] = ()
    trigger: Trigger | None = None  # file events of ``trigger_vfs`` that start a run (like an action)
    trigger_vfs: str = ""


@dataclass(frozen=True, slots=True)
class TasksConfig:
    tasks: MappingProxyType[str, Task] = field(default_factory=lambda: MappingProxyType({}))
    definitions: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))  # name -> JSON
    max_active_runs: int = 100  # every task run not yet over, cluster-wide
    run_retention_days: float = 30.0
    plan: Plan = field(default_factory=lambda: Plan())


@dataclass(frozen=True, slots=True)
class Plan:
    """What ``GET /v1/licenses/current`` reports: the subscription, set by the operator."""

    tier: str = "community"
    start_date: str = ""  # ISO dates; empty: open-ended
    end_date: str = ""


# --- i13a: agents (seed 001) -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Enrollment:
    """An identifier an agent may present as ``customerIdentifier`` to register without a token.

    The agent then belongs to ``customer`` (a configured user); ``uses`` bounds how many agents
    may enrol with it, counted in the catalog across every peer (1 = single use)."""

    id: str
    customer: str
    uses: int = 1


@dataclass(frozen=True, slots=True)
class AgentsConfig:
    """``agents:`` in gateway.yaml: when an agent counts as offline, and the enrolment ids."""

    offline_after_seconds: float = 90.0
    transfer_retention_days: float = 30.0  # transfer rows older than this (by their end) are removed
    enrollments: MappingProxyType[str, Enrollment] = field(default_factory=lambda: MappingProxyType({}))
