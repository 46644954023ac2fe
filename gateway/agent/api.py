"""The agent's side of seed 001's ``/api`` wire: register, heartbeat, jobs, runs, transfers.

Every call but ``register`` carries ``X-API-Key``. Answers are the seed's envelope
(``{"success": true, "data": ...}``); this module unwraps ``data`` and turns failures into two
errors the main loop treats differently: ``Refused`` (401/403: the key is wrong, revoked or the
agent disabled; retrying cannot help, the agent exits) and ``ApiError`` (anything else: logged,
retried on the next tick). Network failures stay ``httpx.TransportError`` (retried too).
"""

from __future__ import annotations

import asyncio
import os
import platform
import socket
from typing import Any

import httpx

from gateway import __version__

RETRIES_429 = 4


class ApiError(Exception):
    """A non-success answer from /api, with its status and the envelope's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class Refused(ApiError):
    """401/403: the gateway no longer accepts this agent (bad key, revoked, agent disabled)."""


def _data(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict) and body.get("success") is True:
        return body.get("data")
    message = body.get("error") if isinstance(body, dict) else None
    if not isinstance(message, str):
        message = response.reason_phrase or "unexpected answer"
    cls = Refused if response.status_code in (401, 403) else ApiError
    raise cls(response.status_code, message)


class AgentApi:
    """``/api`` calls for one agent; ``key`` may be set after ``register``."""

    def __init__(self, client: httpx.AsyncClient, key: str | None) -> None:
        self.client = client
        self.key = key

    def _headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key or ""}

    async def _call(
        self, method: str, url: str, keyed: bool = True, patient: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """One request; a 429 (the agent tier's rate limit) waits for ``Retry-After`` (at most a
        minute) and tries again, a few times, so a run of many small files slows down instead of
        failing."""
        headers = self._headers() if keyed else {}
        for _ in range(RETRIES_429 if patient else 1):
            response = await self.client.request(method.upper(), url, headers=headers, **kwargs)
            if response.status_code != 429:
                return response
            await asyncio.sleep(_retry_after(response))
        return response

    async def register(self, enrollment: str, name: str) -> dict[str, Any]:
        """Enrol with a configured identifier; the answer holds ``agent`` and ``apiKey`` (once)."""
        body = {
            "name": name,
            "hostname": socket.gethostname(),
            "os": platform.system().lower() or "unknown",
            "version": __version__,
            "customerIdentifier": enrollment,
        }
        data = _data(await self._call("post", "/api/agents/register", json=body, keyed=False))
        if not isinstance(data, dict) or not isinstance(data.get("apiKey"), str):
            raise ApiError(500, "register answered without an apiKey")
        return data

    async def heartbeat(self, status: str) -> dict[str, Any]:
        body: dict[str, Any] = {"status": status, "load": _load(), "memory": _memory_mib()}
        data = _data(await self._call("post", "/api/agents/heartbeat", json=body))
        return data if isinstance(data, dict) else {}

    async def jobs(self, agent_id: str | None) -> list[dict[str, Any]]:
        """The enabled jobs assigned to this agent (the gateway scopes the list to the key)."""
        params = {"enabled": "true", "limit": "100"}
        if agent_id:
            params["agentId"] = agent_id
        data = _data(await self._call("get", "/api/jobs", params=params))
        if isinstance(data, dict):  # a paged answer: {"items": [...], ...}
            for field in ("items", "jobs", "data"):
                if isinstance(data.get(field), list):
                    data = data[field]
                    break
        return [job for job in data if isinstance(job, dict)] if isinstance(data, list) else []

    async def claim(self, job_id: str, resume: str | None) -> dict[str, Any] | None:
        """Claim a run of ``job_id`` (or, naming ``resume``, take back the run this agent was
        working on before a restart): the run with its lease, or None on 409 (a run is already
        going under another live lease, or nothing is due)."""
        body = {"runId": resume} if resume else {}
        response = await self._call("post", f"/api/jobs/{job_id}/runs", json=body)
        if response.status_code == 409:
            return None
        data = _data(response)
        if isinstance(data, dict) and isinstance(data.get("run"), dict):
            return dict(data["run"])
        return data if isinstance(data, dict) else None

    async def finish(self, job_id: str, run_id: str, status: str, error: str | None, files: int, size: int) -> None:
        body: dict[str, Any] = {"status": status, "filesTransferred": files, "bytesTransferred": size}
        if error:
            body["error"] = error
        _data(await self._call("patch", f"/api/jobs/{job_id}/runs/{run_id}", json=body))

    async def keep(self, job_id: str, run_id: str) -> None:
        """Renew the lease of the run under way."""
        body = {"status": "running"}
        _data(await self._call("patch", f"/api/jobs/{job_id}/runs/{run_id}", json=body))

    async def new_transfer(self, body: dict[str, Any]) -> str:
        data = _data(await self._call("post", "/api/transfers", json=body))
        transfer = data.get("transfer", data) if isinstance(data, dict) else None
        if not isinstance(transfer, dict) or "id" not in transfer:
            raise ApiError(500, "POST /api/transfers answered without an id")
        return str(transfer["id"])

    async def update_transfer(self, transfer_id: str, body: dict[str, Any], patient: bool = True) -> dict[str, Any]:
        """``patient=False`` for in-flight progress: a 429 is not waited for (the upload stream must
        not pause), the caller may skip that report."""
        data = _data(await self._call("patch", f"/api/transfers/{transfer_id}", patient=patient, json=body))
        return data if isinstance(data, dict) else {}

    async def get_transfer(self, transfer_id: str) -> dict[str, Any]:
        data = _data(await self._call("get", f"/api/transfers/{transfer_id}"))
        return data if isinstance(data, dict) else {}


def _retry_after(response: httpx.Response) -> float:
    text = response.headers.get("retry-after", "")
    return min(60.0, max(0.5, float(text))) if text.isdigit() else 5.0


def _load() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # not every platform has it
        return 0.0


def _memory_mib() -> int:
    """This process's resident memory in MiB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE") // (1024 * 1024)
