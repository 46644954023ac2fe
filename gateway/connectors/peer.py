"""Another gateway of ours, over its /2.0 partner API, exactly as a partner's script uses it.

Login: ``POST /2.0/login/basic`` (the session cookies are kept and the login repeated once when
the session has expired), or a bearer token or API key header when configured. Upload:
``PUT /2.0/files/<path>`` with a ``multipart/form-data`` body built here as a stream (so the
size of the file never matters). The receiving gateway publishes an upload atomically and
replaces a file of the same name, so a retried push leaves one file. After the upload a ``HEAD``
reads back the stored size and its ``Repr-Digest`` (SHA-256), both compared with what was sent.
Download: ``GET``, checked against ``Content-Length`` and ``Repr-Digest``. Listing:
``GET /2.0/directories/<folder>?type=files``, page by page.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime

import httpx

from gateway.config.schema import PeerGatewayConnection
from gateway.connectors._http import (
    content_length,
    make_client,
    network_error,
    sha256_from_digest,
    status_error,
    url_path,
)
from gateway.connectors.base import (
    CHUNK_SIZE,
    RemoteEntry,
    RemoteStream,
    Stream,
    Tally,
    WriteResult,
    checked,
    file_segments,
    listable,
    our_error,
    split_path,
    verify,
)
from gateway.errors import IntegrityError, RemoteError

PAGE = 500


class PeerGatewayConnector:
    def __init__(self, config: PeerGatewayConnection) -> None:
        self.name = config.name
        self._config = config
        self._what = f"gateway connection {config.name!r}"
        headers: dict[str, str] = {}
        if config.token is not None:
            headers["Authorization"] = f"Bearer {config.token}"
        elif config.api_key is not None:
            headers["X-API-Key"] = config.api_key
        self._client = make_client(config.tls, config.timeout_seconds, headers)
        self._logged_in = config.username is None
        self._root = split_path(config.root)

    async def list(self, folder: str = "", glob: str = "*") -> list[RemoteEntry]:
        segments = split_path(folder)
        entries: list[RemoteEntry] = []
        start = 0
        while True:
            params = {"type": "files", "start": str(start), "limit": str(PAGE), "attributes": "size,lastModifiedTime"}
            response = await self._call("GET", "directories", segments, f"listing '{folder}'", params=params)
            body = _json(response)
            elements = body.get("elements") if isinstance(body, dict) else None
            if not isinstance(body, dict) or not isinstance(elements, list):
                raise RemoteError(f"{self._what}: listing '{folder}': the answer is not a /2.0 listing", True)
            for element in elements:
                entry = _entry(element, segments, glob)
                if entry is not None:
                    entries.append(entry)
            start += len(elements)
            total = body.get("total")
            if not elements or not isinstance(total, int) or start >= total:
                break
        return sorted(entries, key=lambda e: e.name)

    async def open_read(self, path: str) -> RemoteStream:
        segments = file_segments(path)
        await self._login()
        doing = f"downloading '{path}'"
        for attempt in (1, 2):
            request = self._client.build_request("GET", self._url("files", segments))
            try:
                response = await self._client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise network_error(self._what, doing, exc) from None
            if response.status_code == 401 and attempt == 1 and self._config.username is not None:
                await response.aclose()
                await self._login(again=True)
                continue
            if response.status_code != 200:
                await response.aread()
                await response.aclose()
                raise status_error(self._what, doing, response, _message(response))
            break
        size = content_length(response)
        sha256 = sha256_from_digest(response.headers.get("repr-digest"))
        return Stream(self._read(response, doing, size, sha256), size, sha256)

    async def _read(
        self, response: httpx.Response, doing: str, size: int | None, sha256: str | None
    ) -> AsyncIterator[bytes]:
        tally = Tally()
        try:
            async for chunk in response.aiter_raw(CHUNK_SIZE):
                tally.add(chunk)
                yield chunk
        except httpx.HTTPError as exc:
            raise network_error(self._what, doing, exc) from None
        finally:
            await response.aclose()
        verify(tally, f"{self._what}: {doing}", size, sha256)

    async def write(
        self, path: str, chunks: AsyncIterable[bytes], size: int | None = None, sha256: str | None = None
    ) -> WriteResult:
        segments = file_segments(path)
        await self._login()
        doing = f"uploading '{path}'"
        what = f"{self._what}: {doing}"
        boundary = secrets.token_hex(16)
        head, tail = _multipart_frame(boundary, segments[-1])
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        if size is not None:
            headers["Content-Length"] = str(len(head) + size + len(tail))
        tally = Tally()

        async def body() -> AsyncIterator[bytes]:
            yield head
            async for chunk in checked(chunks, tally, what, size, sha256):
                yield chunk
            yield tail

        try:
            response = await self._client.put(self._url("files", segments), content=body(), headers=headers)
        except Exception as exc:
            cause = our_error(exc)
            if cause is not None:
                raise cause from None
            if isinstance(exc, httpx.HTTPError):
                raise network_error(self._what, doing, exc) from None
            raise
        if response.status_code == 401 and self._config.username is not None:
            self._logged_in = False  # the session expired: the next attempt logs in again
            raise RemoteError(f"{what}: the session expired; log in again and retry", retryable=True)
        if response.status_code not in (200, 201):
            raise status_error(self._what, doing, response, _message(response))
        stored = await self._call("HEAD", "files", segments, f"checking '{path}'")
        stored_size = content_length(stored)
        stored_sha256 = sha256_from_digest(stored.headers.get("repr-digest"))
        if stored_size is not None and stored_size != tally.size:
            raise IntegrityError(f"{what}: the peer stored {stored_size} bytes instead of {tally.size}")
        if stored_sha256 is not None and stored_sha256 != tally.sha256:
            raise IntegrityError(f"{what}: the peer stored bytes with a different SHA-256")
        return WriteResult(
            "/".join(segments), tally.size, tally.sha256, stored_size is not None, stored_sha256 is not None
        )

    async def delete(self, path: str) -> None:
        await self._call("DELETE", "files", file_segments(path), f"deleting '{path}'")

    async def close(self) -> None:
        await self._client.aclose()

    def _url(self, endpoint: str, segments: tuple[str, ...]) -> str:
        return f"{self._config.url}/2.0/{endpoint}/{url_path((*self._root, *segments))}"

    async def _login(self, again: bool = False) -> None:
        c = self._config
        if (self._logged_in and not again) or c.username is None:
            return
        try:
            response = await self._client.post(
                f"{c.url}/2.0/login/basic", data={"username": c.username, "password": c.password or ""}
            )
        except httpx.HTTPError as exc:
            raise network_error(self._what, "logging in", exc) from None
        if response.status_code != 200:
            raise status_error(self._what, f"logging in as {c.username!r}", response, _message(response))
        self._logged_in = True

    async def _call(
        self, method: str, endpoint: str, segments: tuple[str, ...], doing: str, params: dict[str, str] | None = None
    ) -> httpx.Response:
        """A small request (no streamed body), logged in, retried once after an expired session."""
        await self._login()
        for attempt in (1, 2):
            try:
                response = await self._client.request(method, self._url(endpoint, segments), params=params)
            except httpx.HTTPError as exc:
                raise network_error(self._what, doing, exc) from None
            if response.status_code == 401 and attempt == 1 and self._config.username is not None:
                await self._login(again=True)
                continue
            if not 200 <= response.status_code < 300:
                raise status_error(self._what, doing, response, _message(response))
            return response
        raise AssertionError("unreachable")


def _multipart_frame(boundary: str, name: str) -> tuple[bytes, bytes]:
    """The bytes before and after the file's content in a one-part ``file`` form."""
    filename = name.replace("\\", "\\\\").replace('"', "%22")
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head, f"\r\n--{boundary}--\r\n".encode()


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _message(response: httpx.Response) -> str:
    """The /2.0 error envelope's message (the peer's words for its partners), shortened."""
    body = _json(response) if response.headers.get("content-type", "").startswith("application/json") else None
    message = body.get("message") if isinstance(body, dict) else None
    return message[:200] if isinstance(message, str) else ""


def _entry(element: object, folder: tuple[str, ...], glob: str) -> RemoteEntry | None:
    if not isinstance(element, dict) or element.get("type") != "file":
        return None
    name, size = element.get("name"), element.get("size")
    if not isinstance(name, str) or not listable(name, glob):
        return None
    try:
        count = int(str(size))
    except ValueError:
        return None
    stamp = element.get("lastModifiedTime")
    mtime = None
    if isinstance(stamp, str) and stamp:
        try:
            mtime = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            mtime = None
    return RemoteEntry(name, "/".join((*folder, name)), count, mtime)
