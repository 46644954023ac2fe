"""S3-compatible object storage with obstore: the final key is written once, complete, or not at all.

S3 has no rename, and needs none: an object becomes visible only when its upload completes (a
single PUT, or the completion of a multipart upload for anything larger than ``part_size``), so a
failed or cancelled upload never shows a partial object under its key. The bytes are counted and
hashed as they stream; when they differ from the announced size or SHA-256 the stream raises
before its end, the multipart upload is aborted and nothing is published. Each part is also sent
with its own ``x-amz-checksum-sha256`` so the server refuses a part damaged on the way, and the
whole file's SHA-256 is stored as the object's ``sha256`` user metadata: a read checks the bytes
against it, and a retried push of the same content finds it there and does not upload again.
After the upload the object's size is read back and compared.

Memory: at most two parts of ``part_size`` are in flight (plus one being filled).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from datetime import timedelta

import obstore
from obstore.exceptions import BaseError, NotFoundError, PermissionDeniedError, UnauthenticatedError
from obstore.store import S3Store

from gateway.config.schema import S3Connection
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
from gateway.errors import IntegrityError, RemoteError, RemoteNotFoundError

SHA256_KEY = "sha256"
# obstore raises its own classes, and builtin ones for some (FileNotFoundError for a missing key).
_ERRORS = (BaseError, OSError)
_MAX_CONCURRENCY = 2


class S3Connector:
    def __init__(self, config: S3Connection) -> None:
        self.name = config.name
        self._config = config
        self._what = f"s3 connection {config.name!r} (bucket {config.bucket!r})"
        s3: dict[str, object] = {"region": config.region, "checksum_algorithm": "sha256"}
        if config.endpoint:
            s3["endpoint"] = config.endpoint
        if config.access_key_id and config.secret_access_key:
            s3["access_key_id"] = config.access_key_id
            s3["secret_access_key"] = config.secret_access_key
        if config.session_token:
            s3["session_token"] = config.session_token
        timeout = timedelta(seconds=config.timeout_seconds)
        self._store = S3Store(
            config.bucket,
            prefix=config.prefix or None,
            config=s3,  # type: ignore[arg-type]  # a TypedDict of optional keys, built conditionally
            client_options={"allow_http": config.allow_http, "connect_timeout": timeout, "timeout": timeout * 10},
        )

    async def list(self, folder: str = "", glob: str = "*") -> list[RemoteEntry]:
        segments = split_path(folder)
        prefix = "/".join(segments)
        try:
            found = await obstore.list_with_delimiter_async(self._store, prefix or None)
        except _ERRORS as exc:
            raise self._failure(exc, f"listing '{prefix}'") from None
        entries = []
        for meta in found["objects"]:
            key = meta["path"]
            name = key.rsplit("/", 1)[-1]
            if listable(name, glob):
                entries.append(RemoteEntry(name, key, meta["size"], meta["last_modified"].timestamp()))
        return sorted(entries, key=lambda e: e.name)

    async def open_read(self, path: str) -> RemoteStream:
        key = "/".join(file_segments(path))
        try:
            result = await obstore.get_async(self._store, key)
        except _ERRORS as exc:
            raise self._failure(exc, f"reading '{key}'") from None
        size = result.meta["size"]
        sha256 = _sha256_of(result.attributes)
        return Stream(self._read(result, key, size, sha256), size, sha256)

    async def _read(self, result: obstore.GetResult, key: str, size: int, sha256: str | None) -> AsyncIterator[bytes]:
        tally = Tally()
        stream = result.stream(min_chunk_size=CHUNK_SIZE)
        try:
            async for buffer in stream:
                chunk = bytes(buffer)
                tally.add(chunk)
                yield chunk
        except _ERRORS as exc:
            raise self._failure(exc, f"reading '{key}'") from None
        verify(tally, f"{self._what}: reading '{key}'", size, sha256)

    async def write(
        self, path: str, chunks: AsyncIterable[bytes], size: int | None = None, sha256: str | None = None
    ) -> WriteResult:
        key = "/".join(file_segments(path))
        what = f"{self._what}: writing '{key}'"
        if sha256 is not None and await self._holds(key, size, sha256):
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
            return WriteResult(key, size or 0, sha256.lower(), True, True)
        tally = Tally()
        attributes = {SHA256_KEY: sha256.lower()} if sha256 else {}
        try:
            await obstore.put_async(
                self._store,
                key,
                checked(chunks, tally, what, size, sha256),
                attributes=attributes,
                chunk_size=self._config.part_size,
                max_concurrency=_MAX_CONCURRENCY,
            )
            stored = await obstore.head_async(self._store, key)
        except Exception as exc:
            # What the chunk iterator raised (IntegrityError) comes back through obstore, maybe wrapped.
            cause = our_error(exc)
            if cause is not None:
                raise cause from None
            if isinstance(exc, _ERRORS):
                raise self._failure(exc, f"writing '{key}'") from None
            raise
        if stored["size"] != tally.size:
            raise IntegrityError(f"{what}: the bucket holds {stored['size']} bytes instead of {tally.size}")
        return WriteResult(key, tally.size, tally.sha256, True, sha256 is not None)

    async def _holds(self, key: str, size: int | None, sha256: str) -> bool:
        """Whether ``key`` already holds exactly this content (a retried push after success)."""
        try:
            result = await obstore.get_async(self._store, key, options={"head": True})
        except _ERRORS:
            return False
        same_size = size is None or result.meta["size"] == size
        return same_size and _sha256_of(result.attributes) == sha256.lower()

    async def delete(self, path: str) -> None:
        key = "/".join(file_segments(path))
        try:
            await obstore.head_async(self._store, key)  # S3 deletes a missing key without a word
            await obstore.delete_async(self._store, key)
        except _ERRORS as exc:
            raise self._failure(exc, f"deleting '{key}'") from None

    async def close(self) -> None:
        return None

    def _failure(self, exc: Exception, doing: str) -> RemoteError:
        if isinstance(exc, NotFoundError | FileNotFoundError):
            return RemoteNotFoundError(f"{self._what}: {doing}: no such object")
        if isinstance(exc, PermissionDeniedError | UnauthenticatedError | PermissionError):
            return RemoteError(f"{self._what}: {doing}: access denied by the server", retryable=False)
        first_line = str(exc).split("\n", 1)[0][:300]
        return RemoteError(f"{self._what}: {doing}: {first_line}", retryable=True)


def _sha256_of(attributes: object) -> str | None:
    if not isinstance(attributes, dict):
        return None
    value = attributes.get(SHA256_KEY)
    return value.lower() if isinstance(value, str) and len(value) == 64 else None
