"""Operator control of contract-action runs: list, inspect, abort, retry, start by hand."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from gateway.catalog import files as file_catalog, runs as catalog
from gateway.catalog.records import NewEvent, RunRecord
from gateway.catalog.runs import ClaimedRun
from gateway.core import redact
from gateway.core.paths import parse_config_path
from gateway.core.principal import Principal
from gateway.core.runtime import Runtime
from gateway.core.timefmt import now_us
from gateway.errors import InvalidParameterError, NotFoundError, RequestSyntaxError


async def get(rt: Runtime, run_id: int) -> ClaimedRun:
    """A run and its event as an API may show them (secrets masked, see :mod:`gateway.core.redact`)."""
    found = await catalog.get(rt.db, run_id)
    if found is None:
        raise NotFoundError(f"Run '{run_id}' doesn't exist")
    return dataclasses.replace(found, run=await redact.run(rt, found.run))


async def search(
    rt: Runtime,
    contract: str | None,
    status: str | None,
    fileset: int | None,
    dead: bool | None,
    limit: int,
    offset: int,
) -> tuple[int, list[RunRecord]]:
    if status is not None and status not in catalog.STATUSES:
        raise InvalidParameterError("status", f"expected one of {', '.join(catalog.STATUSES)}")
    total, found = await catalog.search(rt.db, contract, status, fileset, dead, limit, offset)
    return total, [await redact.run(rt, r) for r in found]


async def abort(rt: Runtime, run_id: int) -> str:
    """Cancel a queued run, or ask the peer running it to stop it; returns the status now."""
    status = await catalog.request_abort(rt.db, run_id, now_us())
    if status is None:
        run = await get(rt, run_id)
        raise RequestSyntaxError(f"Run '{run_id}' is {run.run.status} and cannot be aborted")
    return status


async def retry(rt: Runtime, run_id: int) -> None:
    if not await catalog.retry(rt.db, run_id, now_us()):
        run = await get(rt, run_id)
        raise RequestSyntaxError(f"Run '{run_id}' is {run.run.status}; only Failed or Canceled runs can be retried")
    rt.wake()


async def start(
    rt: Runtime, principal: Principal, contract: str, action: str, params: Mapping[str, str], path: str | None
) -> int:
    """Queue one run of ``contract``/``action`` now, with ``params`` over its defaults, about the
    file at VFS path ``path`` when given (as the task API's "run now" does)."""
    bound = rt.actions.contract(contract)
    configured = rt.actions.action(contract, action)
    if bound is None or configured is None:
        raise NotFoundError(f"Action '{action}' of contract '{contract}' doesn't exist")
    fileset = size = sha256 = None
    metadata: dict[str, str] = {}
    event_path = str(bound.path)
    if path is not None:
        vpath = parse_config_path(path)
        record = await file_catalog.get_file(rt.db, bound.vfs, vpath.parent.text, vpath.name)
        if record is None:
            raise NotFoundError(f"File '{path}' doesn't exist")
        fileset, size, sha256, event_path = record.fileset, record.size, record.sha256, str(vpath)
        metadata = await file_catalog.get_metadata(rt.db, record.fileset)
    run = dataclasses.replace(rt.actions.run_for(contract, configured, bound.vfs, event_path, **params), manual=True)
    event = NewEvent(
        type="manual", time=now_us(), actor=principal.actor, user=principal.user, vfs=bound.vfs, path=event_path,
        protocol=principal.protocol, contract=contract, fileset=fileset, size=size, sha256=sha256,
        client_address=principal.client_address, metadata=metadata, runs=(run,),
    )  # fmt: skip
    ids = await catalog.create_manual(rt.db, event)
    rt.wake()
    return ids[0]
