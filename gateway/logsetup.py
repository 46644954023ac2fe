"""Process logging: records are queued on the event loop and written by a background thread.

A log line costs the event loop a ``write()`` to stderr (usually a file or a pipe) when it is
handled in place, and every request writes an access-log line: measured here at about 0.4 ms
of the loop's time per line, as much as the rest of a small download. Queued, the loop only
builds the record; formatting and writing happen in the listener thread. What is queued when the
process is killed (SIGKILL) is lost; a graceful stop drains the queue.

The access log skips even building a record (:func:`access_line`): a preformatted line is kept
for a few milliseconds and handed to the listener with the other lines of that moment, which
makes each line's record in its own thread. docs/small-file-path.md has the figures.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import logging.handlers
import queue
import re
import sys
import threading
import time
from typing import Any, TextIO

from gateway.logsafe import OneLineFormatter, escape

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ACCESS_LOGGER = "gateway.access"
ACCESS_FLUSH_SECONDS = 0.05


class _AccessLines:
    """Access-log lines gathered on one event loop, queued as one item: (time, message) pairs."""

    __slots__ = ("lines", "loop", "thread")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.lines: list[tuple[float, str]] = []
        self.loop = loop
        self.thread = threading.get_ident()  # the loop's: only it adds lines or flushes them early


class _QueueHandler(logging.handlers.QueueHandler):
    """Queues a record after the access lines its thread has pending, keeping the order of lines."""

    def enqueue(self, record: logging.LogRecord) -> None:
        if _pending is not None and _pending.thread == threading.get_ident():
            _flush_access()
        super().enqueue(record)


class _Listener(logging.handlers.QueueListener):
    """Writes queued records and, for a batch of access lines, one record per line, made here
    in the listener thread exactly as ``logging`` would have made it on the loop.

    A batch is formatted by the stream handler's own formatter and written with one ``write``:
    stderr is line-buffered, so handing the lines over one by one made a system call per request
    (the largest share of the access log's cost, bench/results/2026-12-03-stop19.md).
    """

    def __init__(self, records: queue.SimpleQueue[Any], target: logging.StreamHandler[TextIO]) -> None:
        super().__init__(records, target, respect_handler_level=False)
        self.target = target
        self._shape: tuple[logging.Formatter | None, str | None] = (None, None)
        self._second: tuple[int, str] = (-1, "")

    def handle(self, record: logging.LogRecord | _AccessLines) -> None:
        if not isinstance(record, _AccessLines):
            super().handle(record)
            return
        target = self.target
        text: list[str] = []
        rec = None
        middle = self._middle(target.formatter)
        for created, message in record.lines:
            if middle is not None:
                text.append(self._asctime(created) + middle + _one_line(message))
                continue
            rec = _access_record(created, message)
            text.append(target.format(rec))
        if not text:
            return
        if rec is None:
            rec = _access_record(*record.lines[-1])  # for handleError only
        text.append("")  # the last line's terminator
        with target.lock or contextlib.nullcontext():
            try:
                target.stream.write(target.terminator.join(text))
                target.flush()
            except Exception:
                target.handleError(rec)

    def _middle(self, formatter: logging.Formatter | None) -> str | None:
        """What ``formatter`` puts between an access record's time and its message, when its
        lines have that shape (``<asctime><middle><escaped message>``, the middle the same at any
        time): then a line is made by joining the three, at a fraction of a record's and a
        formatter's cost. None (each line formatted as a record) for any other formatter."""
        if self._shape[0] is not formatter:
            self._shape = (formatter, _middle_of(formatter))
        return self._shape[1]

    def _asctime(self, created: float) -> str:
        """``Formatter.formatTime``'s default text, the second's part made once per second."""
        second = int(created)
        if self._second[0] != second:
            self._second = (second, time.strftime(logging.Formatter.default_time_format, time.localtime(second)))
        return f"{self._second[1]},{int((created - second) * 1000):03d}"


def _one_line(message: str) -> str:
    """The message as OneLineFormatter writes it (a line break starts an indented line)."""
    if "\n" not in message:
        return escape(message)
    return "\n  ".join(escape(part) for part in message.split("\n"))


def _access_record(created: float, message: str) -> logging.LogRecord:
    rec = logging.LogRecord(ACCESS_LOGGER, logging.INFO, "", 0, message, None, None)
    rec.created, rec.msecs = created, int((created - int(created)) * 1000) + 0.0
    return rec


_PROBE = "access-line-probe"


# The fields a joined line may hold: the record's time and message, and what is the same for
# every access record made in the listener thread (relativeCreated, say, is not).
_JOINABLE = frozenset({"asctime", "levelname", "name", "process", "message"})


def _middle_of(formatter: logging.Formatter | None) -> str | None:
    if type(formatter) is not OneLineFormatter or formatter.datefmt is not None:
        return None
    if not isinstance(formatter._style, logging.PercentStyle) or type(formatter._style) is not logging.PercentStyle:
        return None
    if not set(re.findall(r"%\((\w+)\)", formatter._fmt or "")) <= _JOINABLE:
        return None
    if formatter.default_time_format != logging.Formatter.default_time_format:
        return None
    if formatter.default_msec_format != "%s,%03d" or formatter.converter is not time.localtime:
        return None
    middles = set()
    for created in (1_000_000_000.25, 1_700_000_123.5):  # two times: a middle must not depend on it
        line = formatter.format(_access_record(created, _PROBE))
        stamp = time.strftime(logging.Formatter.default_time_format, time.localtime(int(created)))
        stamp += f",{int((created - int(created)) * 1000):03d}"
        if not line.startswith(stamp) or not line.endswith(_PROBE):
            return None
        middles.add(line[len(stamp) : -len(_PROBE)])
    return middles.pop() if len(middles) == 1 else None


_ACCESS = logging.getLogger(ACCESS_LOGGER)
_records: queue.SimpleQueue[logging.LogRecord | _AccessLines] | None = None
_handler: _QueueHandler | None = None
_listener: _Listener | None = None
_pending: _AccessLines | None = None


def _flush_access() -> None:
    global _pending
    batch, _pending = _pending, None
    if batch is not None and _records is not None:
        _records.put_nowait(batch)


def access_line(message: str) -> bool:
    """Queue one access-log line without ``logging``'s per-record work; False when that is not
    the same as logging it (this module's handler is not the only one, or a logger on the way
    filters or handles records itself), and then the caller logs it the usual way.

    Lines gather for up to :data:`ACCESS_FLUSH_SECONDS` and go to the listener thread as one
    queue item (waking that thread for each line cost the loop more than the line itself); a
    regular record, and the process's exit, flush them first. The listener formats and writes
    them as records of ``gateway.access``.
    """
    global _pending
    if _handler is None or not _plain_route():
        return False
    loop = asyncio.get_running_loop()
    batch = _pending
    if batch is not None and batch.loop is not loop:
        if batch.thread != threading.get_ident():
            return False  # another thread's loop holds the batch (tests run several): log as usual
        _flush_access()  # left by an earlier loop of this thread, whose timer will never fire
        batch = None
    if batch is None:
        batch = _pending = _AccessLines(loop)
        loop.call_later(ACCESS_FLUSH_SECONDS, _flush_access)
    batch.lines.append((time.time(), message))
    return True


def _plain_route() -> bool:
    """Whether an INFO record of gateway.access would reach only this module's queue handler."""
    if not _ACCESS.isEnabledFor(logging.INFO):
        return False
    logger: logging.Logger | None = _ACCESS
    while logger is not None and logger.parent is not None:
        if logger.handlers or logger.filters or not logger.propagate:
            return False
        logger = logger.parent
    root = logging.getLogger()
    return len(root.handlers) == 1 and root.handlers[0] is _handler and not root.filters and not _handler.filters


def configure(level: str, tag: str = "") -> None:
    """Send every log record through one queue to stderr; idempotent per process.

    ``tag`` (e.g. "worker 1") and the pid go into every line, to tell the processes of one
    ``serve --workers`` apart. Every record is one line with request-derived text escaped
    (gateway.logsafe); a traceback follows on indented lines.
    """
    global _records, _handler, _listener
    root = logging.getLogger()
    if any(isinstance(h, logging.handlers.QueueHandler) for h in root.handlers):
        root.setLevel(level.upper())
        return
    records: queue.SimpleQueue[logging.LogRecord | _AccessLines] = queue.SimpleQueue()
    target = logging.StreamHandler(sys.stderr)
    fmt = FORMAT.replace("%(name)s:", f"%(name)s [{tag}, pid %(process)d]:") if tag else FORMAT
    target.setFormatter(OneLineFormatter(fmt))
    listener = _Listener(records, target)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    _records, _handler = records, _QueueHandler(records)
    root.addHandler(_handler)
    root.setLevel(level.upper())
    listener.start()
    _listener = listener
    atexit.register(listener.stop)
    atexit.register(_flush_access)  # atexit runs it first: lines still pending, then the stop


def drain() -> None:
    """Write out every record queued so far and stop the writer thread (before an ``exec``,
    which runs no atexit handler); a later ``configure`` in the new program starts afresh."""
    global _listener
    if _listener is not None:
        _flush_access()
        _listener.stop()
        atexit.unregister(_listener.stop)
        _listener = None
