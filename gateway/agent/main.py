"""The agent's lifetime: get a key, then heartbeat and work until told to stop.

Exit codes: 0 after SIGTERM/SIGINT (the current chunk is finished or checkpointed first),
2 for a usage or state-file problem, 3 when the gateway refuses the agent (wrong or revoked key,
agent disabled): retrying cannot help, so it says why and exits instead of looping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from gateway.agent import jobs
from gateway.agent.api import AgentApi, ApiError, Refused
from gateway.agent.options import AgentOptions
from gateway.agent.partner import KeyRefused, Partner, PartnerError, Stopped
from gateway.agent.state import StateFile

log = logging.getLogger("gateway.agent")
EXIT_USAGE = 2
EXIT_REFUSED = 3


class Fatal(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def run(options: AgentOptions) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s agent %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would drown the agent's own
    try:
        return asyncio.run(_main(options))
    except Fatal as exc:
        print(f"mft-gateway agent: {exc}", file=sys.stderr, flush=True)
        return exc.code


def _client(options: AgentOptions) -> httpx.AsyncClient:
    verify: ssl.SSLContext | bool = True
    if options.ca_file is not None:
        verify = ssl.create_default_context(cafile=str(options.ca_file))
    timeout = httpx.Timeout(30.0, read=120.0)
    return httpx.AsyncClient(base_url=options.server, verify=verify, timeout=timeout, follow_redirects=False)


async def _key(options: AgentOptions, state: StateFile, api: AgentApi) -> str:
    """The API key: ``--key``, else the one enrolled earlier, else enrol now with ``--enroll``."""
    if options.key:
        return options.key
    stored = state.data.get("apiKey")
    if isinstance(stored, str) and stored:
        return stored
    if not options.enroll:
        raise Fatal(EXIT_USAGE, f"no API key: pass --key, or --enroll ID once (none in {state.path})")
    try:
        data = await api.register(options.enroll, options.name)
    except ApiError as exc:
        raise Fatal(EXIT_REFUSED, f"enrollment refused by the gateway: {exc.message}") from None
    found = data.get("agent")
    agent: dict[str, Any] = found if isinstance(found, dict) else {}
    state.data.update({"apiKey": data["apiKey"], "agentId": agent.get("id"), "server": options.server})
    state.save()
    log.info("enrolled as agent %s; the key is kept in %s", agent.get("id"), state.path)
    return str(data["apiKey"])


def _unreachable(options: AgentOptions, exc: httpx.TransportError) -> Fatal:
    """A clear message for a gateway that cannot be reached; certificate problems are usage errors."""
    if "CERTIFICATE_VERIFY_FAILED" in str(exc) or isinstance(exc.__context__, ssl.SSLCertVerificationError):
        hint = (
            "pass --ca-file with the CA that signed it"
            if options.ca_file is None
            else f"not signed by {options.ca_file}"
        )
        return Fatal(EXIT_USAGE, f"the gateway's TLS certificate is not trusted ({hint})")
    return Fatal(1, f"cannot reach the gateway at {options.server}: {exc or type(exc).__name__}")


def _when(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class Agent:
    def __init__(self, options: AgentOptions, state: StateFile, api: AgentApi, partner: Partner) -> None:
        self.options = options
        self.state = state
        self.api = api
        self.partner = partner
        self.stopping = asyncio.Event()
        self.busy = False
        self.agent_id: str | None = state.data.get("agentId")
        # nextRunAt of each job as last listed: the job is due once that moment has passed. A job
        # not seen yet is tried at once (the gateway answers 409 when no tick is due, and hands
        # out a tick missed while the agent was down).
        self.next_at: dict[str, datetime | None] = {}

    def stop_requested(self) -> bool:
        return self.stopping.is_set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def heartbeat(self) -> None:
        """Tell the gateway the agent lives; while a run is under way, also renew its lease (a
        ``running`` update), so a long file never lets the run be handed to another claim."""
        data = await self.api.heartbeat("busy" if self.busy else "online")
        run = self.state.run()
        if self.busy and run is not None:
            await self.api.keep(str(run["jobId"]), str(run["runId"]))
        agent = data.get("agent", data)
        if isinstance(agent, dict) and agent.get("id") and agent.get("id") != self.agent_id:
            self.agent_id = str(agent["id"])
            self.state.data["agentId"] = self.agent_id
            self.state.save()

    async def first_heartbeat(self) -> bool:
        """False while the gateway cannot be reached (it may be restarting: keep trying); an
        untrusted certificate is fatal, no retry can fix it."""
        try:
            await self.heartbeat()
        except httpx.TransportError as exc:
            fatal = _unreachable(self.options, exc)
            if fatal.code == EXIT_USAGE:
                raise fatal from None
            log.warning("%s; retrying", fatal)
            return False
        return True

    async def heartbeats(self) -> None:
        while not self.stopping.is_set():
            await self._sleep(self.options.heartbeat_seconds)
            if self.stopping.is_set():
                return
            try:
                await self.heartbeat()
            except Refused:
                raise
            except (ApiError, httpx.TransportError) as exc:
                log.warning("heartbeat failed: %s", exc)

    async def work(self) -> None:
        while not self.stopping.is_set():
            try:
                await self.tick()
            except (Refused, Stopped):
                raise
            except KeyRefused as exc:
                raise Refused(exc.status, str(exc)) from None
            except PartnerError as exc:
                log.warning("transfer failed: %s", exc)
            except (ApiError, httpx.TransportError, OSError, ValueError) as exc:
                log.warning("job tick failed: %s", exc)
            await self._sleep(self.options.poll_seconds)

    async def tick(self) -> None:
        """Finish the run the state file holds, then claim and run every due job once."""
        job_list = await self.api.jobs(self.agent_id)
        pending = self.state.run()
        if pending is not None and not any(str(j.get("id")) == str(pending.get("jobId")) for j in job_list):
            await self._drop(pending, "its job is gone or disabled")
            pending = None
        first = [j for j in job_list if pending is not None and str(j.get("id")) == str(pending.get("jobId"))]
        order = first + [j for j in job_list if j not in first and self._due(j)]
        for job in order:
            if self.stopping.is_set():
                return
            await self.run_job(job)

    async def _drop(self, pending: dict[str, Any], reason: str) -> None:
        """Forget an unfinished run; its file under way, if any, is reported cancelled so that no
        transfer row stays "running" for ever."""
        log.warning("dropping run %s of job %s: %s", pending.get("runId"), pending.get("jobId"), reason)
        current = pending.get("current") or {}
        if current.get("transferId"):
            try:
                await self.api.update_transfer(str(current["transferId"]), {"status": "cancelled"})
            except ApiError as exc:
                log.warning("transfer %s not cancelled: %s", current["transferId"], exc)
        self.state.set_run(None)

    def _due(self, job: dict[str, Any]) -> bool:
        job_id = str(job.get("id"))
        if job_id not in self.next_at:
            return True
        when = self.next_at[job_id]
        if when is not None and when <= datetime.now(UTC):
            return True
        # a schedule changed to an earlier time shows in a nextRunAt before the one remembered
        listed = _when(job.get("nextRunAt"))
        if listed is not None and (when is None or listed < when):
            self.next_at[job_id] = listed
        return False

    async def run_job(self, job: dict[str, Any]) -> None:
        self.next_at[str(job["id"])] = _when(job.get("nextRunAt"))
        pending = self.state.run()
        resume = str(pending["runId"]) if pending and str(pending.get("jobId")) == str(job["id"]) else None
        run = await self.api.claim(str(job["id"]), resume)
        if run is None:
            if resume and pending:  # the run ended or went to another holder: nothing of ours to finish
                await self._drop(pending, "the gateway no longer hands it out")
            return
        if pending is None or str(pending.get("runId")) != str(run.get("id")):
            if pending is not None:
                await self._drop(pending, f"the gateway handed out run {run.get('id')} instead")
            pending = {"jobId": job["id"], "runId": run.get("id"), "done": [], "current": None}
            self.state.set_run(pending)
        log.info("run %s of job %s (%s) started", run.get("id"), job["id"], job.get("name"))
        self.busy = True
        try:
            await jobs.execute(self._context(), job, run)
        except (Stopped, Refused):
            raise
        except Exception as exc:
            done = self.state.run() or {}
            files, size = int(done.get("files", 0)), int(done.get("bytes", 0))
            await self.api.finish(str(job["id"]), str(run.get("id")), "failed", str(exc)[:500], files, size)
            self.state.set_run(None)
            raise
        finally:
            self.busy = False
        done = self.state.run() or {}
        files, size = int(done.get("files", 0)), int(done.get("bytes", 0))
        await self.api.finish(str(job["id"]), str(run.get("id")), "completed", None, files, size)
        self.state.set_run(None)
        log.info("run %s of job %s completed", run.get("id"), job["id"])

    def _context(self) -> jobs.Context:
        return jobs.Context(self.api, self.partner, self.state, self.stop_requested, self.agent_id, self.options.server)


async def _main(options: AgentOptions) -> int:
    state = StateFile(options.state_dir)
    try:
        state.load()
    except ValueError as exc:
        raise Fatal(EXIT_USAGE, str(exc)) from None
    async with _client(options) as client:
        api = AgentApi(client, None)
        try:
            api.key = await _key(options, state, api)
        except httpx.TransportError as exc:
            raise _unreachable(options, exc) from None
        agent = Agent(options, state, api, Partner(client, api.key))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, agent.stopping.set)
        started = time.monotonic()
        try:
            while not await agent.first_heartbeat():
                await agent._sleep(options.heartbeat_seconds)
                if agent.stopping.is_set():
                    return 0
            log.info("agent %s online at %s", agent.agent_id, options.server)
            tasks = [asyncio.create_task(agent.heartbeats()), asyncio.create_task(agent.work())]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in tasks:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        except Refused as exc:
            raise Fatal(
                EXIT_REFUSED, f"the gateway refused this agent ({exc.status}: {exc.message}); disabled or key revoked"
            ) from None
        except Stopped:
            pass
        log.info("stopped after %.0f s; state in %s", time.monotonic() - started, state.path)
    return 0
