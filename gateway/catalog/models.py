"""Catalog tables (SQLAlchemy Core).

Core tables rather than ORM classes: every hot path (upload, download, listing) is one or two
statements, and building ORM objects per request costs more than the statements themselves.
Times are integer microseconds since the Unix epoch (UTC): exact, sortable and identical on
SQLite and PostgreSQL. Names sort byte-wise (``COLLATE "C"`` on PostgreSQL, SQLite's default).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

metadata = MetaData()

NameText = Text().with_variant(Text(collation="C"), "postgresql")
# SQLite reuses the largest rowid after a delete unless AUTOINCREMENT is set; a fileset id must
# never be handed out twice, since partners and downstream systems key on it.
_Id = BigInteger().with_variant(Integer, "sqlite")

files = Table(
    "files",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("vfs", String(255), nullable=False),
    Column("folder", NameText, nullable=False),
    Column("name", NameText, nullable=False),
    Column("storage", String(255), nullable=False),
    Column("storage_key", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("datatype", Text, nullable=False, server_default=""),
    Column("correlation_id", Text, nullable=False, server_default=""),
    Column("description", Text, nullable=False, server_default=""),
    Column("dst_file_name", Text, nullable=False, server_default=""),
    Column("put_date", BigInteger, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_modified_time", BigInteger, nullable=False),
    Column("first_read_date", BigInteger, nullable=True),
    Column("last_access_time", BigInteger, nullable=True),
    Column("expiry_date", BigInteger, nullable=True),
    Column("actor", String(255), nullable=False),
    Column("uploaded_by", String(255), nullable=False),
    sqlite_autoincrement=True,
)
Index("ux_files_path", files.c.vfs, files.c.folder, files.c.name, unique=True)
# The listing indexes (ties broken by name; on SQLite the nullable dates lead with "x IS NULL")
# are created by migration 0004, which is the reference for their exact, per-dialect shape.
Index("ix_files_size", files.c.vfs, files.c.folder, files.c.size, files.c.name)
Index("ix_files_put_date", files.c.vfs, files.c.folder, files.c.put_date, files.c.name)
# Partial (migration 0011): the sweeper never wants a file without an expiry date.
Index(
    "ix_files_expiry_due",
    files.c.expiry_date,
    sqlite_where=files.c.expiry_date.is_not(None),
    postgresql_where=files.c.expiry_date.is_not(None),
)
# (0003's ix_files_storage_key cost every upload an entry on a random page: 0012 drops it.)

# One row per folder that holds files: its file count, kept by triggers (migration 0005, the
# reference for them) in the same transaction as every insert and delete of a file row.
folder_counts = Table(
    "folder_counts",
    metadata,
    Column("vfs", String(255), primary_key=True),
    Column("folder", NameText, primary_key=True),
    Column("files", BigInteger, nullable=False),
)

file_metadata = Table(
    "file_metadata",
    metadata,
    Column("file_id", _Id, ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
    Column("key", NameText, primary_key=True),
    Column("value", Text, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_name", String(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("client_address", String(64), nullable=False, server_default=""),
)
Index("ix_sessions_user", sessions.c.user_name)
Index("ix_sessions_expires", sessions.c.expires_at)

events = Table(
    "events",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("type", String(32), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("user_name", String(255), nullable=False),
    Column("protocol", String(16), nullable=False, server_default=""),
    Column("contract", String(255), nullable=False, server_default=""),
    Column("vfs", String(255), nullable=False),
    Column("path", Text, nullable=False),
    Column("fileset", BigInteger, nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("client_address", String(64), nullable=False, server_default=""),
    Column("metadata", Text, nullable=False, server_default="{}"),
    Column("chain", Text, nullable=False, server_default="[]"),  # route hops, to refuse loops
    sqlite_autoincrement=True,
)
Index("ix_events_time", events.c.time)  # (0001's ix_events_fileset served no query: 0011 drops it)

# Contract-action runs: one per (event, matching action), inserted in the event's transaction.
runs = Table(
    "runs",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("event_id", _Id, ForeignKey("events.id"), nullable=False),
    Column("contract", String(255), nullable=False),
    Column("action", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("dead", Boolean, nullable=False, server_default=false()),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("max_attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("lease_until", BigInteger, nullable=True),
    Column("claimed_by", String(128), nullable=True),
    Column("abort_requested", Boolean, nullable=False, server_default=false()),
    Column("manual", Boolean, nullable=False, server_default=false()),
    Column("params", Text, nullable=False, server_default="{}"),
    Column("ordering_key", Text, nullable=False),
    Column("fileset", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("output", Text, nullable=False, server_default=""),
    Column("history", Text, nullable=False, server_default="[]"),
    # Task runs (migration 0007): the task version run, what started it, each step's state.
    Column("task_version", Integer, nullable=True),
    Column("trigger", String(16), nullable=False, server_default="event"),
    Column("steps", Text, nullable=False, server_default="[]"),
    sqlite_autoincrement=True,
)
Index("ix_runs_due", runs.c.status, runs.c.next_attempt_at)
Index("ix_runs_ordering", runs.c.ordering_key, runs.c.id)
Index("ix_runs_contract", runs.c.contract, runs.c.id)
Index("ix_runs_fileset", runs.c.fileset)
Index("ix_runs_event", runs.c.event_id)
Index("ix_runs_task_status", runs.c.action, runs.c.status)

# Machine access (migration 0006): API keys (only a hash of the secret), the keys that sign
# access tokens (shared by every peer), and an append-only log of revocations that each peer
# tails about once a second. ``generation`` grows on regenerate; a token names the generation
# it was issued from, and a revocation row raises the minimum valid one for its ``subject``.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("scopes", Text, nullable=False, server_default=""),
    Column("secret_hash", String(64), nullable=False),
    Column("generation", Integer, nullable=False, server_default="1"),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(255), nullable=False, server_default=""),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
)
Index("ix_api_keys_owner", api_keys.c.owner)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("alg", String(16), nullable=False),
    Column("private_pem", Text, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

revocations = Table(
    "revocations",
    metadata,
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("subject", String(255), nullable=False),  # "jti:<id>", "apikey:<id>", "client:<id>"
    Column("min_version", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),  # after this no token it concerns can be live
    sqlite_autoincrement=True,
)
Index("ix_revocations_expires", revocations.c.expires_at)
# The jti of every accepted client assertion (RFC 7523) until it expires: the primary key refuses a
# replay on every peer (gateway/catalog/replay.py).
assertion_jtis = Table(
    "assertion_jtis",
    metadata,
    Column("issuer", String(255), primary_key=True),
    Column("jti", String(255), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)
Index("ix_assertion_jtis_expires", assertion_jtis.c.expires_at)

# Brute-force defence (core/defender.py). Scores: one row per failed credential check and key
# (``addr:<ip>`` or ``acct:<name>``), summed over the observation window and purged after it.
defender_events = Table(
    "defender_events",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("key", String(320), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("score", Integer, nullable=False),
    sqlite_autoincrement=True,
)
Index("ix_defender_events_key", defender_events.c.key, defender_events.c.at)
Index("ix_defender_events_at", defender_events.c.at)

# Bans, shared by every peer and kept across restarts.
defender_bans = Table(
    "defender_bans",
    metadata,
    Column("key", String(320), primary_key=True),
    Column("banned_at", BigInteger, nullable=False),
    Column("until", BigInteger, nullable=False),
    Column("score", Integer, nullable=False),
)
Index("ix_defender_bans_until", defender_bans.c.until)

# Rate-limit counts each peer publishes for the current window (http/ratelimit.py); disposable
# (UNLOGGED on PostgreSQL, see migration 0006_i11c).
rate_counts = Table(
    "rate_counts",
    metadata,
    Column("peer", String(32), primary_key=True),
    Column("key", String(320), primary_key=True),
    Column("tier", String(16), primary_key=True),
    Column("minute", BigInteger, primary_key=True),
    Column("count", BigInteger, nullable=False),
)
Index("ix_rate_counts_minute", rate_counts.c.minute)

# The audit trail of credential events (catalog/audit.py).
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("event", String(64), nullable=False),
    Column("principal", String(255), nullable=True),
    Column("address", String(64), nullable=True),
    Column("detail", Text, nullable=False, server_default="{}"),
    sqlite_autoincrement=True,
)
Index("ix_audit_events_at", audit_events.c.at)
Index("ix_audit_events_event", audit_events.c.event, audit_events.c.at)
Index("ix_audit_events_principal", audit_events.c.principal, audit_events.c.at)

# Task definitions (migration 0007): every version of every task, from tasks.yaml or the API.
task_versions = Table(
    "task_versions",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", Text, nullable=False),  # canonical JSON (config/_tasks.canonical)
    Column("source", Text, nullable=False, server_default=""),  # the YAML/JSON text as sent, for the API
    Column("origin", String(16), nullable=False),  # "config" | "api"
    Column("created_at", BigInteger, nullable=False),
)

# One row per (schedule, tick) that fired: the primary key makes a second peer's insert of the
# same tick fail, so each tick runs exactly once across the cluster.
schedule_ticks = Table(
    "schedule_ticks",
    metadata,
    Column("schedule", String(255), primary_key=True),
    Column("tick", BigInteger, primary_key=True),  # the tick's time, microseconds since the epoch
    Column("run_id", BigInteger, nullable=True),
    Column("fired_at", BigInteger, nullable=False),
    Column("fired_by", String(128), nullable=False, server_default=""),
)

# --- i13a: agents and transfers (seed 001; migration 0009_i13a) ---------------------------------
# An agent belongs to a customer (``owner``, a configured user) of a partner (``partner``, its
# actor); its X-API-Key is an ``api_keys`` row (``api_key_id``). ``last_seen`` is written with
# the catalog's clock by each heartbeat; online/offline is computed when read.
agents = Table(
    "agents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("hostname", String(255), nullable=False, server_default=""),
    Column("os", String(64), nullable=False, server_default=""),
    Column("version", String(64), nullable=False, server_default=""),
    Column("owner", String(255), nullable=False),
    Column("partner", String(255), nullable=False),
    Column("api_key_id", String(32), nullable=False, unique=True),
    Column("enrollment", String(128), nullable=True),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("reported_status", String(32), nullable=False, server_default="online"),
    Column("load", Text, nullable=True),  # the last heartbeat's numbers, as JSON numbers
    Column("memory", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=True),
    Column("disabled_at", BigInteger, nullable=True),
)
Index("ix_agents_partner", agents.c.partner, agents.c.created_at)

# How often each configured enrollment id was used, shared by every peer.
agent_enrollments = Table(
    "agent_enrollments",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("used", Integer, nullable=False),
)

# Every movement of bytes: a /2.0 upload or download, a task run's pull or push, an agent's report.
transfers = Table(
    "transfers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("direction", String(16), nullable=False),
    Column("protocol", String(16), nullable=False),
    Column("source", Text, nullable=False, server_default=""),
    Column("destination", Text, nullable=False, server_default=""),
    Column("size", BigInteger, nullable=True),
    Column("bytes_transferred", BigInteger, nullable=False, server_default="0"),
    Column("progress", Integer, nullable=False, server_default="0"),
    Column("speed", BigInteger, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=True),
    Column("agent_id", String(36), nullable=True),
    Column("partner", String(255), nullable=False, server_default=""),
    Column("owner", String(255), nullable=False, server_default=""),
    Column("run_id", BigInteger, nullable=True),
    Column("error", Text, nullable=True),
)
Index("ix_transfers_started", transfers.c.started_at, transfers.c.id)
Index("ix_transfers_partner", transfers.c.partner, transfers.c.started_at)
Index(  # partial (migration 0011): a partner's transfers have no agent
    "ix_transfers_agent",
    transfers.c.agent_id,
    transfers.c.started_at,
    sqlite_where=transfers.c.agent_id.is_not(None),
    postgresql_where=transfers.c.agent_id.is_not(None),
)

# --- i13b: seed 001's jobs and pipelines (migration 0010_i13b) ---------------------------------
# A job: a cron-scheduled transfer, claimed by its agent, or (no agent) run on the gateway as the
# implicit task ``job-<id>``. ``owner`` is the partner user who may see it ("" = admins only).
api_jobs = Table(
    "api_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner", String(255), nullable=False, server_default=""),
    Column("agent_id", String(36), nullable=True),
    Column("name", String(200), nullable=False),
    Column("source_path", Text, nullable=False),
    Column("destination_path", Text, nullable=False),
    Column("schedule", String(120), nullable=False),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("protocol", String(16), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
Index("ix_api_jobs_agent", api_jobs.c.agent_id)
Index("ix_api_jobs_owner", api_jobs.c.owner)

# A run of an agent's job: one per (job, tick), the unique key making a tick run once; the agent
# holding it renews ``lease_until``; an expired lease hands the run back to the next claim.
api_job_runs = Table(
    "api_job_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("job_id", String(36), nullable=False),
    Column("tick", BigInteger, nullable=False),
    Column("agent_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),  # running | completed | failed | canceled
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("lease_until", BigInteger, nullable=True),
    Column("started_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
    Column("bytes", BigInteger, nullable=False, server_default="0"),
    Column("files", Integer, nullable=False, server_default="0"),
    Column("error", Text, nullable=False, server_default=""),
    UniqueConstraint("job_id", "tick", name="uq_api_job_runs_tick"),
)
Index("ix_api_job_runs_job", api_job_runs.c.job_id, api_job_runs.c.started_at)

# A pipeline is a task (task_versions) plus its API metadata; ``identifier`` is the task's name.
pipelines = Table(
    "pipelines",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("identifier", String(200), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("enabled", Boolean, nullable=False),
    Column("owner", String(255), nullable=False, server_default=""),
    Column("version", Integer, nullable=False),  # the current pipeline version
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
Index("ix_pipelines_owner", pipelines.c.owner)

# Every YAML text a pipeline was given, byte for byte, with its SHA-256 and the task version it
# parsed to (equal definitions share a task version; their texts still differ).
pipeline_versions = Table(
    "pipeline_versions",
    metadata,
    Column("pipeline_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("yaml", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("task_version", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
