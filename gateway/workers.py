"""Several gateway processes on one port: ``server.workers`` / ``serve --workers N``.

One Python process runs one event loop on one core; the small-file rates are bound by it. With
N workers, ``serve`` becomes a small supervisor (it imports neither the app nor the catalog)
that starts N worker processes, each a whole gateway: its own server, event loop, catalog
connections, session cache and dispatcher, exactly as a cluster peer on PostgreSQL is. They
share the catalog (SQLite in WAL mode across processes, or PostgreSQL) and the storage.

Each worker listens on its own ``SO_REUSEPORT`` socket of the same port and the kernel spreads
new connections over them: a shared listening socket would let whichever worker wakes first
accept a burst of connections and keep them for their keep-alive life. The supervisor holds a
bound, never-listening socket of the group, so the port stays reserved while a worker restarts
(and ``--port 0`` has one answer).

The supervisor is a fresh interpreter: ``serve`` reads the configuration, binds the port and
then ``exec``s ``python -m gateway.workers --supervise``, keeping its pid and the bound socket.
Everything ``serve`` imported to get there (the configuration loader with its validators,
SQLAlchemy's table definitions, passlib...) would otherwise stay resident in a process that
only watches its children: 57 MiB against 22 MiB (bench/README.md, "Workers and resident set").

Start: worker 0 brings the catalog schema up to date before it listens, then the others start
(so migrations never run twice at once on SQLite); the port file is written and the "listening"
line printed once all are listening. A worker that dies is restarted (at once after a long life,
with a growing pause while it keeps dying). SIGTERM/SIGINT to the supervisor stop the workers
gracefully and it exits 0 when they all did; each worker dies with the supervisor (Linux
``PR_SET_PDEATHSIG``) should the supervisor be killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

from gateway.settings import Settings

log = logging.getLogger("gateway.workers")
_POLL_SECONDS = 0.2
_STEADY_SECONDS = 10.0  # a worker that lived this long is restarted at once
_MAX_PAUSE_SECONDS = 30.0
_KILL_MARGIN_SECONDS = 15.0  # after graceful_shutdown_seconds, before SIGKILL
# The supervisor's arguments are written into a pipe before the exec that reads them: a write
# past the pipe's capacity (64 KiB on Linux) would block for good; this is half of it.
_MAX_EXEC_ARGS = select.PIPE_BUF * 8


@dataclass(frozen=True, slots=True)
class WorkerArgs:
    """What the supervisor hands a worker on its standard input (pickled: it may hold a DSN)."""

    settings: Settings
    http_server: str
    index: int
    port: int
    ready_fd: int
    supervisor_pid: int


@dataclass(frozen=True, slots=True)
class SupervisorArgs:
    """What ``serve`` hands the supervisor it ``exec``s, through an inherited pipe."""

    settings: Settings
    http_server: str
    count: int
    reserved_fd: int  # the bound, not listening socket, inherited across the exec
    port_file: str | None
    listening_line: str  # printed to stderr once every worker listens; "{port}" is filled in


@dataclass(slots=True)
class _Worker:
    index: int
    proc: subprocess.Popen[bytes]
    ready_fd: int  # read end of the worker's "listening" pipe; -1 once read or given up
    started: float


class _Supervisor:
    def __init__(self, settings: Settings, http_server: str, port: int) -> None:
        self.settings = settings
        self.http_server = http_server
        self.port = port
        self.stopping = False
        self.workers: dict[int, _Worker] = {}
        self.pauses: dict[int, float] = {}  # index -> pause before its next restart

    def on_signal(self, signum: int, frame: object) -> None:
        if not self.stopping:
            log.info("stopping %d worker(s)", len(self.workers))
        self.stopping = True
        for worker in self.workers.values():
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGTERM)

    def spawn(self, index: int) -> _Worker:
        read_fd, write_fd = os.pipe()
        try:
            # Its own process group: a terminal's Ctrl-C reaches the supervisor only, which
            # forwards one SIGTERM (a second signal would make a worker drop its requests).
            proc = subprocess.Popen(
                [sys.executable, "-m", "gateway.workers"],
                stdin=subprocess.PIPE,
                pass_fds=(write_fd,),
                process_group=0,
            )
            assert proc.stdin is not None
            args = WorkerArgs(self.settings, self.http_server, index, self.port, write_fd, os.getpid())
            proc.stdin.write(pickle.dumps(args))
            proc.stdin.close()
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        worker = _Worker(index, proc, read_fd, time.monotonic())
        self.workers[index] = worker
        return worker

    def wait_listening(self, worker: _Worker) -> bool:
        """Block until the worker listens (True) or exits or a stop signal arrives (False)."""
        try:
            while not self.stopping:
                readable, _, _ = select.select([worker.ready_fd], [], [], _POLL_SECONDS)
                if readable:
                    return os.read(worker.ready_fd, 1) == b"1"  # b"": it exited before listening
            return False
        finally:
            _close_ready(worker)

    def watch(self) -> None:
        """Restart workers that die, until a stop signal."""
        due: dict[int, float] = {}  # index -> when to restart it
        while True:
            time.sleep(_POLL_SECONDS)
            if self.stopping:
                return
            now = time.monotonic()
            for index, worker in list(self.workers.items()):
                if index in due or worker.proc.poll() is None:
                    continue
                _close_ready(worker)
                lived = now - worker.started
                pause = self.pauses[index] = restart_pause(lived, self.pauses.get(index, 0.0))
                log.error(
                    "worker %d (pid %d) exited with %s after %.0fs; restarting it in %.0fs",
                    index,
                    worker.proc.pid,
                    _describe(worker.proc.returncode),
                    lived,
                    pause,
                )
                due[index] = now + pause
            for index, when in list(due.items()):
                if now >= when:
                    del due[index]
                    _close_ready(self.spawn(index))  # a restart is not waited for

    def stop_all(self) -> int:
        """SIGTERM every worker, wait for them (SIGKILL after the grace period); 0 if all exited 0."""
        self.stopping = True
        for worker in self.workers.values():
            _close_ready(worker)
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.graceful_shutdown_seconds + _KILL_MARGIN_SECONDS
        status = 0
        for worker in self.workers.values():
            try:
                code = worker.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker %d (pid %d) did not stop in time: killed", worker.index, worker.proc.pid)
                worker.proc.kill()
                code = worker.proc.wait()
            # Dying of our SIGTERM is a clean stop for a worker still starting (no handler yet).
            if code not in (0, -signal.SIGTERM):
                status = status or (code if code > 0 else 1)
        return status


def restart_pause(lived: float, previous: float) -> float:
    """Seconds to wait before restarting a worker that lived ``lived`` seconds; ``previous`` is
    the pause before its last start. No pause after a steady life; else 1 s, doubling up to 30 s
    while it keeps dying young (also when it dies young again after a steady life)."""
    if lived >= _STEADY_SECONDS:
        return 0.0
    return min(max(previous * 2, 1.0), _MAX_PAUSE_SECONDS)


def _close_ready(worker: _Worker) -> None:
    if worker.ready_fd >= 0:
        os.close(worker.ready_fd)
        worker.ready_fd = -1


def _describe(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        return f"signal {signal.Signals(-returncode).name}"
    return f"code {returncode}"


def supervise(
    settings: Settings, reserved: socket.socket, http_server: str, count: int, on_listening: Callable[[int], None]
) -> int:
    """Run ``count`` workers on the port of ``reserved`` until SIGTERM/SIGINT; the exit code.

    ``reserved`` is bound with SO_REUSEPORT and not listening; it is held (and closed at the end)
    so the port stays ours while workers restart. ``on_listening(port)`` runs once every worker
    listens.
    """
    port = reserved.getsockname()[1]
    sup = _Supervisor(settings, http_server, port)
    previous = {sig: signal.signal(sig, sup.on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index in range(count):
            worker = sup.spawn(index)
            if not sup.wait_listening(worker):
                if sup.stopping:
                    return sup.stop_all()
                try:  # its end of the pipe closed: it is exiting
                    code = worker.proc.wait(_KILL_MARGIN_SECONDS)
                except subprocess.TimeoutExpired:
                    return sup.stop_all() or 1
                log.error("worker %d exited with %s while starting", index, _describe(code))
                sup.stop_all()
                return code if code > 0 else 1
        on_listening(port)
        sup.watch()
        return sup.stop_all()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        reserved.close()


def exec_supervisor(args: SupervisorArgs, reserved: socket.socket) -> NoReturn:
    """Replace this process (same pid) with a fresh interpreter running :func:`supervise`.

    The arguments go through a pipe whose read end, like ``reserved``, survives the exec.
    """
    reserved.set_inheritable(True)
    read_fd, write_fd = os.pipe()
    data = pickle.dumps(args)
    if len(data) > _MAX_EXEC_ARGS:  # far more than settings take
        raise ValueError(f"supervisor arguments too large: {len(data)} bytes")
    os.write(write_fd, data)
    os.close(write_fd)
    os.set_inheritable(read_fd, True)
    from gateway import logsetup

    logsetup.drain()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "gateway.workers", "--supervise", str(read_fd)])


def _supervisor_main(read_fd: int) -> int:
    with os.fdopen(read_fd, "rb") as pipe:
        args: SupervisorArgs = pickle.load(pipe)
    from gateway import logsetup

    logsetup.configure(args.settings.log_level)

    def announce(port: int) -> None:
        if args.port_file:
            Path(args.port_file).write_text(f"{port}\n")
        print(args.listening_line.replace("{port}", str(port)), file=sys.stderr, flush=True)

    reserved = socket.socket(fileno=args.reserved_fd)
    return supervise(args.settings, reserved, args.http_server, args.count, announce)


def _die_with_supervisor(supervisor_pid: int) -> None:
    """Ask Linux to SIGTERM this process when the supervisor dies (it may already have)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != supervisor_pid:
        raise SystemExit(1)


def _worker_main() -> int:
    args: WorkerArgs = pickle.load(sys.stdin.buffer)
    _die_with_supervisor(args.supervisor_pid)
    from gateway import logsetup, serve
    from gateway.app import create_app
    from gateway.config.loader import load_config

    settings = args.settings
    logsetup.configure(settings.log_level, tag=f"worker {args.index}")
    if args.index == 0 and settings.migrate:
        asyncio.run(_migrate(settings))
    sock = serve.bind(settings.host, args.port, reuse_port=True)
    sock.listen(serve.BACKLOG)
    with contextlib.suppress(BrokenPipeError):  # a restarted worker's start is not waited for
        os.write(args.ready_fd, b"1")
    os.close(args.ready_fd)
    app = create_app(replace(settings, migrate=False))
    run = serve.run_granian if args.http_server == "granian" else serve.run_uvicorn
    run(app, sock, settings, load_config(settings.config_dir, settings.data_dir).server)  # connection limits
    return 0


async def _migrate(settings: Settings) -> None:
    from gateway.catalog.db import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.catalog_url)
    try:
        await db.migrate()
    finally:
        await db.dispose()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--supervise"]:
        sys.exit(_supervisor_main(int(sys.argv[2])))
    sys.exit(_worker_main())
