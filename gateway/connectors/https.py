"""Plain HTTPS endpoints with httpx: GET to download, PUT or POST to upload, DELETE, streamed.

The URLs are templates: ``{path}`` is the remote path (each segment percent-encoded) and
``{name}`` its last segment. HTTP has no rename, so whether a file appears atomically is the
receiver's business; what this side guarantees: the body is streamed with ``Content-Length``
(when the size is known) so a cut transfer is recognisably short, it carries ``Repr-Digest`` and
``Content-Digest`` (RFC 9530, SHA-256) so the receiver can check it, and an ``Idempotency-Key``
derived from the path and the content so a receiver can recognise a retried POST. A download is
checked against ``Content-Length`` and, when the server sends one, its ``Repr-Digest``.

An HTTPS endpoint has no folders to list: :meth:`HttpsConnector.list` is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from urllib.parse import quote

import httpx

from gateway.config.schema import HttpsConnection
from gateway.connectors._http import (
    content_length,
    digest_header,
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
    our_error,
    verify,
)
from gateway.errors import IntegrityError, RemoteError


class HttpsConnector:
    def __init__(self, config: HttpsConnection) -> None:
        self.name = config.name
        self._config = config
        self._what = f"https connection {config.name!r}"
        self._client = make_client(config.tls, config.timeout_seconds, dict(config.headers))

    async def list(self, folder: str = "", glob: str = "*") -> list[RemoteEntry]:
        raise RemoteError(f"{self._what}: an HTTPS endpoint cannot list a folder; name the file to fetch", False)

    async def open_read(self, path: str) -> RemoteStream:
        segments = file_segments(path)
        url = self._url(self._config.download_url, "download_url", segments)
        request = self._client.build_request("GET", url, headers={"Accept-Encoding": "identity"})
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise network_error(self._what, f"downloading '{path}'", exc) from None
        if response.status_code != 200:
            await response.aclose()
            raise status_error(self._what, f"downloading '{path}'", response)
        size = content_length(response)
        sha256 = sha256_from_digest(response.headers.get("repr-digest"))
        return Stream(self._read(response, path, size, sha256), size, sha256)

    async def _read(
        self, response: httpx.Response, path: str, size: int | None, sha256: str | None
    ) -> AsyncIterator[bytes]:
        tally = Tally()
        try:
            async for chunk in response.aiter_raw(CHUNK_SIZE):
                tally.add(chunk)
                yield chunk
        except httpx.HTTPError as exc:
            raise network_error(self._what, f"downloading '{path}'", exc) from None
        finally:
            await response.aclose()
        verify(tally, f"{self._what}: downloading '{path}'", size, sha256)

    async def write(
        self, path: str, chunks: AsyncIterable[bytes], size: int | None = None, sha256: str | None = None
    ) -> WriteResult:
        segments = file_segments(path)
        url = self._url(self._config.upload_url, "upload_url", segments)
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        if sha256 is not None:
            headers["Repr-Digest"] = headers["Content-Digest"] = digest_header(sha256)
            key = hashlib.sha256(f"{'/'.join(segments)}\0{sha256.lower()}".encode()).hexdigest()
            headers["Idempotency-Key"] = f'"{key}"'
        tally = Tally()
        what = f"{self._what}: uploading '{path}'"
        body = checked(chunks, tally, what, size, sha256)
        try:
            response = await self._client.request(self._config.upload_method, url, content=body, headers=headers)
        except Exception as exc:
            cause = our_error(exc)
            if cause is not None:
                raise cause from None
            if isinstance(exc, httpx.HTTPError):
                raise network_error(self._what, f"uploading '{path}'", exc) from None
            raise
        if not 200 <= response.status_code < 300:
            raise status_error(self._what, f"uploading '{path}'", response)
        echoed = sha256_from_digest(response.headers.get("repr-digest"))
        if echoed is not None and echoed != tally.sha256:
            raise IntegrityError(f"{what}: the receiver reports a different SHA-256")
        return WriteResult("/".join(segments), tally.size, tally.sha256, False, echoed is not None)

    async def delete(self, path: str) -> None:
        segments = file_segments(path)
        url = self._url(self._config.delete_url, "delete_url", segments)
        try:
            response = await self._client.delete(url)
        except httpx.HTTPError as exc:
            raise network_error(self._what, f"deleting '{path}'", exc) from None
        if not 200 <= response.status_code < 300:
            raise status_error(self._what, f"deleting '{path}'", response)

    async def close(self) -> None:
        await self._client.aclose()

    def _url(self, template: str | None, key: str, segments: tuple[str, ...]) -> str:
        if template is None:
            raise RemoteError(f"{self._what}: no '{key}' is configured", retryable=False)
        return template.format(path=url_path(segments), name=quote(segments[-1], safe=""))
