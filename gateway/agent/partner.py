"""The agent's side of the ``/2.0`` partner API: list, stat, upload and download, with a bearer token.

Why a bearer token and not the API key on every request: the key is exchanged once at ``/token``
(seed 002) for a short-lived JWT that any gateway peer verifies without a catalog read; revoking
the key (or disabling the agent) revokes its tokens too, and a 401 makes the agent fetch a new
token once and, if that is refused, stop. Uploads stream the file as ``multipart/form-data``
built here chunk by chunk, so progress is known and nothing is held whole in memory; the gateway
makes an upload visible only when complete, so a cut upload leaves nothing behind. Downloads
resume with ``Range`` + ``If-Range`` (the ETag is the content's SHA-256).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

CHUNK = 256 * 1024
# Tests slow transfers down to stop an agent in the middle of a file (seconds after each chunk).
_DELAY_ENV = "GATEWAY_TEST_AGENT_CHUNK_DELAY"
Progress = Callable[[int], Awaitable[None]]


class PartnerError(Exception):
    """A /2.0 failure, with the status and the envelope's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class KeyRefused(PartnerError):
    """``/token`` refused the key: revoked, expired, or the agent disabled."""


class Stopped(Exception):
    """The agent was asked to stop in the middle of a file; the state file says where."""


@dataclass(frozen=True)
class RemoteFile:
    size: int
    sha256: str


def vfs_url(path: str) -> str:
    """``/inbox/a b.txt`` → ``inbox/a%20b.txt``: each segment encoded once, empty ones dropped."""
    return "/".join(quote(part, safe="") for part in path.split("/") if part)


def _chunk_delay() -> float:
    try:
        return max(0.0, float(os.environ.get(_DELAY_ENV, "0") or 0))
    except ValueError:
        return 0.0


def _size(path: Path) -> int:
    return path.stat().st_size


def _partial(part: Path) -> tuple[int, str]:
    """Bytes already downloaded into ``part`` and the ETag they came with ('' if none)."""
    try:
        have = part.stat().st_size
        etag = part.with_name(part.name + ".etag").read_text().strip()
    except FileNotFoundError:
        return 0, ""
    return have, etag


def _fail(response: httpx.Response) -> PartnerError:
    try:
        message = str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        message = response.reason_phrase
    return PartnerError(response.status_code, message or response.reason_phrase)


class Partner:
    """``/2.0`` calls as the agent's partner user."""

    def __init__(self, client: httpx.AsyncClient, key: str) -> None:
        self.client = client
        self.key = key
        self._token: str | None = None
        self._expires = 0.0

    async def _bearer(self, renew: bool = False) -> dict[str, str]:
        if renew or self._token is None or time.monotonic() > self._expires:
            response = await self.client.post("/token", data={"grant_type": "apikey", "key": self.key})
            if response.status_code in (400, 401, 403, 410):
                raise KeyRefused(response.status_code, "the gateway refused the agent's key at /token")
            if response.status_code != 200:
                raise _fail(response)
            body = response.json()
            self._token = str(body["access_token"])
            # renew a minute early (or halfway for very short tokens)
            lifetime = max(60, int(body.get("expires_in", 1)) * 60)
            self._expires = time.monotonic() + max(lifetime - 60, lifetime / 2)
        return {"Authorization": f"Bearer {self._token}"}

    async def _send(self, build: Callable[[dict[str, str]], Awaitable[httpx.Response]]) -> httpx.Response:
        response = await build(await self._bearer())
        if response.status_code == 401:
            await response.aclose()
            response = await build(await self._bearer(renew=True))
        return response

    async def files(self, folder: str) -> list[str]:
        """Names of the files (not folders) in a VFS folder, every page."""
        names: list[str] = []
        start = 0
        while True:
            params = {"type": "files", "start": str(start), "limit": "500", "sort": "name"}
            response = await self._send(functools.partial(self._get, f"/2.0/directories/{vfs_url(folder)}", params))
            if response.status_code != 200:
                raise _fail(response)
            body = response.json()
            names.extend(e["name"] for e in body.get("elements", []) if e.get("type") == "file")
            start += 500
            if start >= int(body.get("total", 0)):
                return names

    async def _get(self, url: str, params: dict[str, str], headers: dict[str, str]) -> httpx.Response:
        return await self.client.get(url, params=params, headers=headers)

    async def stat(self, path: str) -> RemoteFile | None:
        """Size and SHA-256 of a VFS file (a HEAD: no download is recorded), None if absent."""
        url = f"/2.0/files/{vfs_url(path)}"
        response = await self._send(lambda h: self.client.head(url, headers=h))
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PartnerError(response.status_code, f"HEAD {path} failed")
        return RemoteFile(int(response.headers.get("content-length", "0")), response.headers.get("etag", "").strip('"'))

    async def upload(
        self, source: Path, path: str, progress: Progress, stop: Callable[[], bool], transfer_id: str = ""
    ) -> str:
        """PUT ``source`` to the VFS ``path``; returns the SHA-256 sent. ``stop()`` turning true
        aborts the request (the gateway then keeps nothing) and raises ``Stopped``. ``transfer_id``
        names the agent's own transfer row, so the gateway does not list the same bytes twice."""
        boundary = secrets.token_hex(16)
        name = path.rsplit("/", 1)[-1].replace('"', "%22")
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        size = _size(source)
        digest = hashlib.sha256()
        delay = _chunk_delay()

        async def body() -> AsyncIterator[bytes]:
            yield head
            sent = 0
            with source.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    if stop():
                        raise Stopped()
                    digest.update(chunk)
                    yield chunk
                    sent += len(chunk)
                    await progress(sent)
                    if delay:
                        await asyncio.sleep(delay)
            yield tail

        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
            **_linked(transfer_id),
        }
        url = f"/2.0/files/{vfs_url(path)}"
        response = await self._send(lambda h: self.client.put(url, content=body(), headers={**headers, **h}))
        if response.status_code != 201:
            raise _fail(response)
        return digest.hexdigest()

    async def download(
        self, path: str, part: Path, progress: Progress, stop: Callable[[], bool], transfer_id: str = ""
    ) -> RemoteFile:
        """GET the VFS ``path`` into ``part``, resuming from its current length when the remote
        content is unchanged (``If-Range``). Returns the remote size and SHA-256; the caller
        checks the digest and renames. ``stop()`` ends after the current chunk (``Stopped``)."""
        have, etag = _partial(part)
        delay = _chunk_delay()
        etag_file = part.with_name(part.name + ".etag")
        url = f"/2.0/files/{vfs_url(path)}"
        for attempt in range(2):
            headers = {**await self._bearer(renew=attempt == 1), **_linked(transfer_id)}
            if have and etag:
                headers.update({"Range": f"bytes={have}-", "If-Range": etag})
            async with self.client.stream("GET", url, headers=headers) as response:
                if response.status_code == 401 and attempt == 0:
                    continue
                if response.status_code not in (200, 206):
                    await response.aread()
                    raise _fail(response)
                etag = response.headers.get("etag", "")
                etag_file.write_text(etag)
                mode = "ab" if response.status_code == 206 else "wb"
                done = have if response.status_code == 206 else 0
                total = done + int(response.headers.get("content-length", "0"))
                with part.open(mode) as out:
                    async for chunk in response.aiter_bytes(CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        await progress(done)
                        if delay:
                            await asyncio.sleep(delay)
                        if stop() and done < total:
                            out.flush()
                            os.fsync(out.fileno())
                            raise Stopped()
                    out.flush()
                    os.fsync(out.fileno())
                return RemoteFile(total, etag.strip('"'))
        raise KeyRefused(401, "the gateway refused the agent's token")


def _linked(transfer_id: str) -> dict[str, str]:
    """The header naming the agent's own transfer row for a /2.0 request (see core/files.py)."""
    return {"X-MFT-Transfer-Id": transfer_id} if transfer_id else {}
