"""Zero-copy file bodies under uvicorn: the ASGI ``http.response.pathsend`` extension, by ``sendfile``.

A large download streamed through uvicorn is read into memory by a worker thread and copied into
the socket by the event loop, which holds the GIL while it copies: the loop's core is used up
before the client's (1 GiB: 0.8 CPU-s and about 0.7 x nginx's rate here, bench/README.md). The
kernel can send a file's pages itself. uvicorn has no ``pathsend``, so the gateway's protocol
subclass (gateway/connguard.py) offers it on plain-TCP GETs and hands such a body to this module.

One thread (:class:`Sender`) sends every zero-copy body of the process: it owns a duplicate of
each client socket and of each file, waits for the sockets to be writable with its own
``selectors`` instance, and calls ``os.sendfile`` on the non-blocking socket, so a slow or
stalled client holds no thread and no event-loop time, and a disk read blocks only this thread.
The duplicates matter: when the client goes away, uvicorn closes its descriptor, and a number
this thread still used could otherwise be reused by the next connection. A body is finished
(or abandoned) in this thread before its descriptors are closed, and only then does the
request go on.

When the body cannot be sent this way (the file's size is not the announced length, the
transport still holds unsent bytes, TLS), it is streamed through uvicorn as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import queue
import selectors
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.coalesce import CoalescingTransport

_WINDOW = 8 * 1024 * 1024  # the most one sendfile() call is asked for (the socket takes less)
_STREAM_CHUNK = 1024 * 1024
Send = Callable[[Any], Awaitable[None]]


class _Job:
    __slots__ = ("sock", "file", "offset", "left", "done", "loop", "cancelled")

    def __init__(self, sock: int, file: int, offset: int, left: int, loop: asyncio.AbstractEventLoop) -> None:
        self.sock = sock
        self.file = file
        self.offset = offset
        self.left = left
        self.loop = loop
        self.done: asyncio.Future[None] = loop.create_future()
        self.cancelled = False


class Sender:
    """The thread that runs every ``sendfile`` of the process (started on first use)."""

    def __init__(self) -> None:
        self._incoming: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._run, name="gateway-sendfile", daemon=True)
        self._thread.start()

    async def send(self, sock: int, file: int, offset: int, count: int) -> None:
        """Send ``count`` bytes of ``file`` from ``offset`` on ``sock``; OSError if the client
        goes away (EPIPE, ECONNRESET) or the file ends early. Cancelled, it stops the body and
        returns only once this thread no longer touches either descriptor."""
        job = _Job(sock, file, offset, count, asyncio.get_running_loop())
        self._post(job)
        try:
            await asyncio.shield(job.done)
        except asyncio.CancelledError:
            job.cancelled = True
            self._wake()
            with contextlib.suppress(BaseException):
                await job.done
            raise

    def _post(self, job: _Job) -> None:
        self._incoming.put(job)
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"\0")

    def _run(self) -> None:
        active: set[_Job] = set()
        while True:
            for key, _ in self._selector.select():
                if key.data is None:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_r, 4096)
                else:
                    self._step(key.data, active)
            while True:
                try:
                    job = self._incoming.get_nowait()
                except queue.Empty:
                    break
                try:
                    self._selector.register(job.sock, selectors.EVENT_WRITE, job)
                except (OSError, ValueError) as exc:  # never expected; the job fails, not the thread
                    _resolve(job, OSError(errno.EBADF, str(exc)))
                    continue
                active.add(job)
                self._step(job, active)
            for job in [j for j in active if j.cancelled]:
                self._finish(job, active, asyncio.CancelledError())

    def _step(self, job: _Job, active: set[_Job]) -> None:
        """Send what the socket takes now; finish the job when done or failed."""
        if job.cancelled:
            self._finish(job, active, asyncio.CancelledError())
            return
        try:
            while job.left:
                sent = os.sendfile(job.sock, job.file, job.offset, min(job.left, _WINDOW))
                if sent == 0:
                    raise OSError(errno.EIO, "the file ended before its announced length")
                job.offset += sent
                job.left -= sent
        except BlockingIOError:
            return  # the selector says when the socket takes more
        except OSError as exc:
            self._finish(job, active, exc)
            return
        self._finish(job, active, None)

    def _finish(self, job: _Job, active: set[_Job], exc: BaseException | None) -> None:
        if job not in active:
            return
        active.discard(job)
        self._selector.unregister(job.sock)
        _resolve(job, exc)


def _resolve(job: _Job, exc: BaseException | None) -> None:
    with contextlib.suppress(RuntimeError):  # the job's loop is closed: no one waits any more
        job.loop.call_soon_threadsafe(_settle, job.done, exc)


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)


_sender: Sender | None = None
_sender_lock = threading.Lock()


def sender() -> Sender:
    global _sender
    with _sender_lock:
        if _sender is None:
            _sender = Sender()
        return _sender


def _open(path: str) -> tuple[int, int]:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        return fd, os.fstat(fd).st_size
    except BaseException:
        os.close(fd)
        raise


def _drop(cycle: Any) -> None:
    """End a connection whose body cannot be finished, as uvicorn's connection_lost would record
    it (so that uvicorn neither writes to it nor reports an unfinished response)."""
    cycle.disconnected = True
    cycle.transport.close()


async def pathsend(cycle: Any, send: Send, path: str) -> None:
    """Send the body of ``cycle`` (uvicorn's RequestResponseCycle, whose head is sent) from the
    file at ``path``: by ``sendfile`` from the :class:`Sender` thread, else through ``send``.

    Raises OSError when the body did not go out whole: the client went away, or the file could
    not be opened (removed in the instant since the app checked it). The connection is then
    closed, since its head promised a body it cannot have."""
    try:
        fd, size = await asyncio.to_thread(_open, path)
    except OSError:
        _drop(cycle)
        raise
    try:
        transport: CoalescingTransport = cycle.transport  # connguard's protocol always sets one
        transport.flush()  # the held head goes first
        raw = transport.raw
        sock = raw.get_extra_info("socket")
        if (
            size != cycle.expected_content_length
            or sock is None
            or raw.get_write_buffer_size()
            or raw.is_closing()
            or cycle.disconnected
        ):
            await _stream(send, fd, size)
            return
        dup = os.dup(sock.fileno())
        try:
            await sender().send(dup, fd, 0, size)
        except OSError:
            _drop(cycle)
            raise
        finally:
            os.close(dup)
    finally:
        os.close(fd)
    cycle.expected_content_length = 0  # sent past uvicorn's own count
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _stream(send: Send, fd: int, size: int) -> None:
    offset = 0
    while offset < size:
        chunk = await asyncio.to_thread(os.pread, fd, min(_STREAM_CHUNK, size - offset), offset)
        if not chunk:
            break  # shorter than announced: uvicorn refuses to end the response, and closes
        offset += len(chunk)
        await send({"type": "http.response.body", "body": chunk, "more_body": offset < size})
    if offset == 0 or offset < size:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
