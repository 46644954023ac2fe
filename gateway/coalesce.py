"""One socket write per small response under uvicorn, instead of one for the head and one for the body.

uvicorn's httptools protocol writes a response's head to the transport as soon as the app sends
``http.response.start``, and the body with the next ``http.response.body``: two ``send`` system
calls, two loopback segments and two wake-ups of the client for a 4 KiB download or an upload's
JSON answer. py-spy puts uvicorn's ``send`` at about a quarter of a small download's CPU here
(a loopback send also delivers the segment, in the sender's time), so the second call is worth
saving (figures in bench/README.md).

:class:`CoalescingTransport` stands between the protocol and its transport. A small write made
while nothing is held is *held*; the next write in the same turn of the event loop goes out
with it, in one system call; whatever is still held at the end of that turn is written then (a
head with no body yet, while the app awaits a slow read, leaves at once). Writes over 64 KiB are
never held nor copied, so a large download streams as before. Order is kept (nothing overtakes
held bytes); ``close`` and ``write_eof`` write what is held first; ``abort`` drops it, as the
transport's own ``abort`` drops its buffer.
"""

from __future__ import annotations

import asyncio
from typing import Any

_JOIN_MAX = 64 * 1024  # larger writes (big downloads' chunks) are never held nor copied


class CoalescingTransport:
    """A transport proxy joining the writes of one event-loop turn (see the module docstring)."""

    __slots__ = ("_transport", "_loop", "_held", "_scheduled")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if len(data) <= _JOIN_MAX:
                self._transport.write(held + data)
                return
            self._transport.write(held)
        elif data and len(data) <= _JOIN_MAX:
            self._held = bytes(data)
            if not self._scheduled:
                self._scheduled = True
                self._loop.call_soon(self._flush)
            return
        if data:
            self._transport.write(data)

    def _flush(self) -> None:
        self._scheduled = False
        self.flush()

    def flush(self) -> None:
        """Write what is held now (before bytes are sent past this transport, by sendfile)."""
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    @property
    def raw(self) -> asyncio.Transport:
        """The transport written to."""
        return self._transport

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
