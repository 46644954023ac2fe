"""Command actions: a program run with argv and environment built from the event.

Never through a shell: each configured argument is one argv element, with placeholders
expanded inside it, so a file named ``$(touch pwned)`` or ``;id`` arrives as exactly that
string. The child gets a clean environment (the gateway's own, which may hold a catalog
password, is not inherited), its own process group (so abort and timeout kill everything it
started), and its combined output is kept up to a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal

from gateway.config.schema import CommandAction
from gateway.core.actions import expand
from gateway.core.outcome import Outcome, RunContext

BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
_KILL_GRACE_SECONDS = 2.0


def environment(action: CommandAction, ctx: RunContext) -> dict[str, str]:
    env = dict(BASE_ENV)
    for key, value in ctx.values().items():
        if not key.startswith("param."):
            env[f"GATEWAY_EVENT_{key.upper()}"] = value
    for key, value in ctx.run.params.items():
        env["GATEWAY_PARAM_" + re.sub(r"[^A-Za-z0-9_]", "_", key).upper()] = value
    env["GATEWAY_EVENT_METADATA"] = json.dumps(ctx.event.metadata, ensure_ascii=False)
    env["GATEWAY_EVENT_JSON"] = json.dumps(ctx.payload(), ensure_ascii=False)
    env.update(action.env)
    return env


async def _collect(stream: asyncio.StreamReader, limit: int) -> tuple[bytes, int]:
    """Read everything, keep the first ``limit`` bytes; returns (kept, total)."""
    kept = bytearray()
    total = 0
    while chunk := await stream.read(65536):
        total += len(chunk)
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
    return bytes(kept), total


def _kill_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    _kill_group(proc, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), _KILL_GRACE_SECONDS)
    except TimeoutError:
        _kill_group(proc, signal.SIGKILL)
        await proc.wait()


async def run(action: CommandAction, ctx: RunContext) -> Outcome:
    """Raises CancelledError after killing the process group when the run is aborted."""
    values = ctx.values()
    argv = [expand(arg, values) for arg in action.argv]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=environment(action, ctx),
            cwd=action.cwd,
            start_new_session=True,
        )
    except OSError as exc:
        return Outcome(ok=False, error=f"could not start {argv[0]}: {exc.strerror}")
    assert proc.stdout is not None
    reader = asyncio.create_task(_collect(proc.stdout, action.max_output_bytes))
    try:
        code = await asyncio.wait_for(proc.wait(), action.timeout_seconds)
    except TimeoutError:
        await _stop(proc)
        reader.cancel()
        return Outcome(ok=False, error=f"timed out after {action.timeout_seconds:g} s and was killed")
    except asyncio.CancelledError:
        await asyncio.shield(_stop(proc))
        reader.cancel()
        raise
    try:
        # A grandchild that inherited stdout could keep the pipe open after the command exits.
        kept, total = await asyncio.wait_for(reader, _KILL_GRACE_SECONDS)
    except TimeoutError:
        kept, total = b"", 0
    output = kept.decode("utf-8", errors="replace")
    if total > len(kept):
        output += f"\n[output truncated: {total} bytes, first {len(kept)} kept]"
    if code == 0:
        return Outcome(ok=True, output=output)
    return Outcome(ok=False, output=output, error=f"exited with status {code}")
