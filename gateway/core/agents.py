"""Agents (seed 001): programs a customer runs next to its systems, speaking ``/api`` with an
``X-API-Key``.

An agent belongs to a customer (a configured user) and its partner (the user's actor). Its key
is an ordinary API key of that customer (gateway/core/apikeys.py: ``mft_ak_…``, shown once,
stored hashed), so it can also fetch a bearer token from ``POST /token`` for ``/2.0``. What
makes the key an agent's is the ``agents`` row naming it, read on every ``/api`` request: a
disabled agent is refused at once by every peer. Disabling also revokes the key (and its
tokens) for the other APIs, where a peer may accept it for up to ``apikeys.CACHE_SECONDS``.

Online or offline is computed when an agent is read: offline when its last heartbeat (or its
registration) is older than ``agents.offline_after_seconds``; no sweeper writes it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace

from gateway.catalog import agents as catalog, audit
from gateway.catalog.agents import AgentRecord
from gateway.catalog.percatalog import PerCatalog
from gateway.core import apikeys, defender
from gateway.core.principal import Principal
from gateway.core.runtime import Runtime
from gateway.core.timefmt import iso_ms, now_us
from gateway.errors import (
    AuthenticationError,
    AuthorizationError,
    InvalidParameterError,
    NotFoundError,
    RequestSyntaxError,
)

HEARTBEAT_STATUSES = ("online", "idle", "busy", "degraded", "offline")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls an ``/api`` endpoint: an admin sees everything, a customer its partner's
    agents and transfers, an agent (its X-API-Key) only itself and its own transfers."""

    principal: Principal
    agent: AgentRecord | None = None

    @property
    def admin(self) -> bool:
        return self.agent is None and "admin" in self.principal.roles

    @property
    def partner(self) -> str | None:
        """The partner whose records this caller may see; ``None``: every partner's."""
        return None if self.admin else self.principal.actor


@dataclass(frozen=True, slots=True)
class NewAgent:
    name: str
    hostname: str
    os: str
    version: str


def mtls_block(agent: AgentRecord) -> dict[str, object]:
    """Seed 001's ``mtls`` answer. Client certificates are not issued yet (``enabled`` false);
    the template is an OpenSSL request config naming the agent, for when they are."""
    template = (
        "[req]\nprompt = no\ndistinguished_name = dn\n[dn]\n"
        f"CN = {agent.id}\nO = {agent.partner}\nOU = mft-agent\n"
        "# openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -config agent.cnf "
        "-keyout agent.key -out agent.csr\n"
    )
    return {"enabled": False, "csrTemplate": template}


def status_of(rt: Runtime, agent: AgentRecord, now: int) -> str:
    if not agent.enabled:
        return "disabled"
    seen = agent.last_seen if agent.last_seen is not None else agent.created_at
    if now - seen > rt.config.agents.offline_after_seconds * 1_000_000:
        return "offline"
    return agent.reported_status


def to_wire(rt: Runtime, agent: AgentRecord, now: int | None = None) -> dict[str, object]:
    now = now_us() if now is None else now
    return {
        "id": agent.id,
        "name": agent.name,
        "hostname": agent.hostname,
        "os": agent.os,
        "version": agent.version,
        "status": status_of(rt, agent, now),
        "enabled": agent.enabled,
        "partner": agent.partner,
        "customer": agent.owner,
        "createdAt": iso_ms(agent.created_at),
        "lastSeen": iso_ms(agent.last_seen) if agent.last_seen is not None else None,
        "load": json.loads(agent.load) if agent.load is not None else None,
        "memory": json.loads(agent.memory) if agent.memory is not None else None,
    }


async def enrollment_owner(rt: Runtime, identifier: str, address: str) -> tuple[str, str]:
    """The customer an enrollment id registers agents for, one use counted; ``(customer, id)``.
    An unknown id counts as a failed credential (brute-force defence); a used-up one is a 403."""
    await defender.guard(rt, address, None)
    enrollment = rt.config.agents.enrollments.get(identifier)
    if enrollment is None:
        await defender.failed(rt, address, None, known=False)
        raise AuthenticationError("Invalid customerIdentifier")
    if not await catalog.use_enrollment(rt.db, enrollment.id, enrollment.uses):
        raise AuthorizationError(f"customerIdentifier has been used {enrollment.uses} time(s), all its uses are spent")
    return enrollment.customer, enrollment.id


async def register(
    rt: Runtime, customer: str, new: NewAgent, enrollment: str | None, by: str, address: str
) -> tuple[AgentRecord, str]:
    """A new agent of ``customer`` and its API key (plaintext, shown once)."""
    user = rt.config.users.get(customer)
    if user is None or not user.enabled:
        raise AuthenticationError("The customer of this registration is unknown or disabled")
    agent_id = str(uuid.uuid4())
    try:
        key, plaintext = await apikeys.create(rt, customer, f"agent {new.name}"[:255], None, None, by, address)
        record = AgentRecord(
            id=agent_id, name=new.name, hostname=new.hostname, os=new.os, version=new.version, owner=customer,
            partner=user.actor, api_key_id=key.id, enrollment=enrollment, enabled=True, reported_status="online",
            load=None, memory=None, created_at=now_us(), last_seen=None, disabled_at=None,
        )  # fmt: skip
        await catalog.insert_agent(rt.db, record)
    except BaseException:
        if enrollment is not None:
            await catalog.release_enrollment(rt.db, enrollment)
        raise
    await audit.record(rt.db, "agent.registered", principal=by, address=address,
                       detail={"agent": agent_id, "customer": customer, "key": key.id})  # fmt: skip
    return record, plaintext


_AGENT_OF_KEY_MAX = 10_000
_agent_of_key: PerCatalog[dict[str, str | None]] = PerCatalog(lambda db: {})


def is_key(credential: str) -> bool:
    """Whether ``credential`` is an API key's (or a token's issued from one): only such a
    credential may be an agent's (:func:`agent_of_credential`)."""
    return credential.startswith("apikey:")


async def agent_of_credential(rt: Runtime, credential: str) -> str | None:
    """The agent id whose API key ``credential`` is (``apikey:<id>``, also a token issued from
    it), for linking its /2.0 transfers; None for any other credential. Remembered per key: a
    key belongs to one agent or none for life (disabling revokes the key, which auth refuses)."""
    if not is_key(credential):
        return None
    key_id = credential[len("apikey:") :]
    known = _agent_of_key(rt.db)
    if key_id not in known:
        if len(known) >= _AGENT_OF_KEY_MAX:
            known.clear()
        agent = await catalog.by_key(rt.db, key_id)
        known[key_id] = agent.id if agent is not None else None
    return known[key_id]


async def for_key(rt: Runtime, key_id: str) -> AgentRecord | None:
    """The agent whose API key this is (None: an ordinary key), read from the catalog each time
    so that a disable takes effect at once on every peer."""
    return await catalog.by_key(rt.db, key_id)


async def heartbeat(
    rt: Runtime, agent: AgentRecord, status: str, load: float | None, memory: float | None
) -> AgentRecord:
    if status not in HEARTBEAT_STATUSES:
        raise InvalidParameterError("status", f"one of {', '.join(HEARTBEAT_STATUSES)}")
    now = now_us()
    load_text = None if load is None else json.dumps(load)
    memory_text = None if memory is None else json.dumps(memory)
    if not await catalog.heartbeat(rt.db, agent.id, now, status, load_text, memory_text):
        raise AuthenticationError("Invalid or expired API key")  # disabled since authenticated
    return replace(agent, last_seen=now, reported_status=status, load=load_text, memory=memory_text)


def _visible(caller: Caller, agent: AgentRecord) -> bool:
    if caller.agent is not None:
        return caller.agent.id == agent.id
    return caller.partner is None or caller.partner == agent.partner


async def get(rt: Runtime, caller: Caller, agent_id: str) -> AgentRecord:
    """The agent ``agent_id`` if the caller may see it; another partner's answers NotFoundError
    (as an unknown id does), so ids leak nothing."""
    agent = await catalog.get(rt.db, agent_id) if _plausible(agent_id) else None
    if agent is None or not _visible(caller, agent):
        raise NotFoundError(f"Agent '{agent_id[:64]}' not found")
    return agent


def _plausible(agent_id: str) -> bool:
    return 0 < len(agent_id) <= 36 and agent_id.isascii() and all(c.isalnum() or c == "-" for c in agent_id)


async def page(rt: Runtime, caller: Caller, page_no: int, limit: int) -> tuple[list[AgentRecord], int]:
    if caller.agent is not None:
        return ([caller.agent] if page_no == 1 else []), 1
    return await catalog.page(rt.db, caller.partner, (page_no - 1) * limit, limit)


async def disable(rt: Runtime, caller: Caller, agent_id: str, address: str) -> AgentRecord:
    """Admin only: the agent is refused from now on by every peer, and its key is revoked."""
    if not caller.admin:
        await get(rt, caller, agent_id)  # 404 for what the caller cannot see
        raise AuthorizationError("Only an admin may disable an agent")
    agent = await get(rt, caller, agent_id)
    if await catalog.disable(rt.db, agent.id, now_us()):
        await apikeys.revoke(rt, agent.api_key_id, caller.principal.user, address)
        await audit.record(rt.db, "agent.disabled", principal=caller.principal.user, address=address,
                           detail={"agent": agent.id})  # fmt: skip
    return await get(rt, caller, agent_id)


def ensure_enabled(caller: Caller, agent: AgentRecord) -> None:
    """``{"enabled": true}``: an admin-only no-op on an enabled agent; a disabled one stays
    disabled (its key is revoked), which is a conflict."""
    if not caller.admin:
        raise AuthorizationError("Only an admin may change an agent")
    if not agent.enabled:
        raise StateError(f"Agent '{agent.id}' is disabled and its key revoked; register a new agent")


class StateError(RequestSyntaxError):
    """A record's state refuses the change (a disabled agent enabled, a finished transfer
    changed): 409 on /api."""

    error_type = "conflict"
    default_message = "The resource's state refuses this change"
