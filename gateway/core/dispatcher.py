"""The dispatcher: every gateway process claims due runs, executes them and records outcomes.

Delivery is at-least-once. A run is committed with its event; it is claimed under a lease
that the executing process renews while the run goes on (so a peer that dies mid-run hands it
back when the lease runs out, and a restarted process takes back its own predecessor's runs at
once); a failed attempt is retried with exponential
backoff and jitter up to the action's limit and then dead-lettered (Failed, dead). Aborts are
requested in the catalog, so any peer's admin API can stop a run that another peer executes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from typing import TYPE_CHECKING

from gateway.catalog import runs as catalog
from gateway.catalog.records import RunRecord
from gateway.catalog.runs import ClaimedRun
from gateway.core import redact, taskrun
from gateway.core.outcome import Outcome, RunContext
from gateway.core.runtime import Runtime
from gateway.core.timefmt import now_us

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("gateway.dispatcher")
_US = 1_000_000
_ABORT_POLL_SECONDS = 0.5
_STALE_CHECK_SECONDS = 15.0
_LEASE_MARGIN_SECONDS = 60.0


def _host() -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())


def worker_id() -> str:
    return f"{_host()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _is_dead_local_worker(worker: str) -> bool:
    host, _, rest = worker.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _host() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def backoff_us(attempt: int, base: float, ceiling: float) -> int:
    """Exponential backoff with jitter: about ``base * 2**(attempt-1)``, capped, times 0.5..1."""
    delay = min(ceiling, base * 2 ** max(0, attempt - 1))
    return int(delay * random.uniform(0.5, 1.0) * _US)


class Dispatcher:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.worker = worker_id()
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._aborted: set[int] = set()
        self._client: httpx.AsyncClient | None = None  # made by the first run that needs it
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def _lease_us(self) -> int:
        longest = 0.0
        for contract in self.rt.config.contracts:
            for action in contract.actions:
                timeout = (action.command.timeout_seconds if action.command else 0) or (
                    action.webhook.timeout_seconds if action.webhook else 0
                )
                longest = max(longest, timeout)
        return int((longest + _LEASE_MARGIN_SECONDS) * _US)

    async def start(self) -> None:
        dead = [w for w in await catalog.workers_in_progress(self.rt.db) if _is_dead_local_worker(w)]
        released = await catalog.release_stale(self.rt.db, now_us(), dead)
        if released:
            log.warning("re-queued %d run(s) left in progress by a stopped process", released)
        self._task = asyncio.create_task(self._loop(), name="dispatcher")

    async def stop(self) -> None:
        """Stop claiming, interrupt running actions and hand their runs back to the queue."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def _loop(self) -> None:
        lease = self._lease_us()
        last_stale_check = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if loop.time() - last_stale_check > _STALE_CHECK_SECONDS:
                    last_stale_check = loop.time()
                    # Runs this process still executes keep their lease (a task may run for hours).
                    await catalog.renew_leases(self.rt.db, self.worker, list(self._inflight), now_us() + lease)
                    await catalog.release_stale(self.rt.db, now_us())
                free = self.rt.config.server.dispatch_concurrency - len(self._inflight)
                if free > 0:
                    self.rt.work.clear()
                    for claimed in await catalog.claim_due(self.rt.db, self.worker, now_us(), lease, free):
                        self._inflight[claimed.run.id] = asyncio.create_task(self._execute(claimed))
                await self._check_aborts()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatcher loop error")
            timeout = _ABORT_POLL_SECONDS if self._inflight else self.rt.config.server.dispatch_poll_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.rt.work.wait(), timeout)

    async def _check_aborts(self) -> None:
        for run_id in await catalog.abort_requested(self.rt.db, list(self._inflight)):
            task = self._inflight.get(run_id)
            if task is not None and run_id not in self._aborted:
                self._aborted.add(run_id)
                task.cancel()

    async def _attempt(self, ctx: RunContext) -> Outcome:
        """One attempt of any run: a task's, or a contract action's (an implicit one-step task)."""
        if self._client is None:
            # Here, not at start: httpx (with the rich/click/pygments of its command line) costs
            # ~6 MiB in every process, and a gateway without actions never sends a request.
            import httpx

            self._client = httpx.AsyncClient(follow_redirects=False)
        return await taskrun.execute(self.rt, self._client, ctx.run, ctx.event)

    async def _execute(self, claimed: ClaimedRun) -> None:
        run = claimed.run
        ctx = RunContext(run=run, event=claimed.event)
        try:
            try:
                outcome = await self._attempt(ctx)
            except asyncio.CancelledError:
                if run.id in self._aborted:
                    reason = await catalog.abort_reason(self.rt.db, run.id)
                    await catalog.finish(self.rt.db, run, "Canceled", now_us(), error=reason)
                elif self._stopping:
                    await catalog.reschedule(self.rt.db, run, now_us(), now_us(), "", "interrupted by shutdown")
                raise
            except Exception as exc:
                log.exception("run %s (%s/%s) raised", run.id, run.contract, run.action)
                outcome = Outcome(ok=False, error=f"internal error: {type(exc).__name__}")
            await self._record(run, outcome)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("could not record the outcome of run %s", run.id)
        finally:
            self._inflight.pop(run.id, None)
            self._aborted.discard(run.id)
            self.rt.wake()  # a slot is free, and later runs of the same file may now be due

    async def _record(self, run: RunRecord, outcome: Outcome) -> None:
        now = now_us()
        if outcome.ok:
            await catalog.finish(self.rt.db, run, "Finished", now, output=outcome.output)
            log.info("run %s (%s/%s) finished", run.id, run.contract, run.action)
            return
        action = self.rt.actions.action(run.contract, run.action)
        if outcome.retryable and action is not None and run.attempts < run.max_attempts:
            delay = backoff_us(run.attempts, action.retry.backoff_seconds, action.retry.max_backoff_seconds)
            await catalog.reschedule(self.rt.db, run, now, now + delay, outcome.output, outcome.error)
            log.warning("run %s (%s/%s) attempt %d failed: %s; retrying", run.id, run.contract, run.action,
                        run.attempts, self._shown(outcome.error))  # fmt: skip
            return
        dead = outcome.retryable
        await catalog.finish(self.rt.db, run, "Failed", now, output=outcome.output, error=outcome.error, dead=dead)
        log.error("run %s (%s/%s) failed%s: %s", run.id, run.contract, run.action,
                  " after its last attempt (dead-lettered)" if dead else "", self._shown(outcome.error))  # fmt: skip

    def _shown(self, error: str) -> str:
        """An error as a log line may hold it: no configured secret (a URL's token, a header)."""
        return redact.text(error, redact.config_values(self.rt.config))
