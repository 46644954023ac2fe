"""What the core needs from a protocol front-end to receive one uploaded file."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from gateway.frozen import frozen
from gateway.storage.base import ObjectWriter

OpenWriter = Callable[[], Awaitable[ObjectWriter]]


@frozen
class ReceivedForm:
    """What arrived beside the file bytes (which went straight to the writer)."""

    has_file: bool
    filename: str | None = None
    content_type: str | None = None
    metadata: bytes | None = None


class UploadSource(Protocol):
    async def receive(self, open_writer: OpenWriter) -> ReceivedForm:
        """Stream the request; call ``open_writer`` once when the file's bytes begin.

        Raises RequestSyntaxError for a malformed body and LimitExceededError past a limit.
        """
