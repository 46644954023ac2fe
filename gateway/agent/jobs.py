"""One claimed run of a job: every file of the source folder copied to the destination, each one
reported as a transfer, the position checkpointed so a restarted agent continues the same run.

Directions are seen from the agent, as in seed 001's example job (``pull`` from ``/remote/…`` to
``/local/…``): ``push`` copies the local ``sourcePath`` folder into the VFS folder
``destinationPath``; ``pull`` copies the VFS folder ``sourcePath`` into the local folder
``destinationPath``. The agent copies and never deletes. A file already at the destination with
the same SHA-256 is skipped without a transfer row (nothing moved), which is what makes a
re-run after a crash, or the next tick, free of duplicates:

- push: the gateway commits an upload only when complete, so a killed upload leaves nothing, and
  the restarted agent re-sends that file under the *same* transfer id (kept in the state file);
  if the upload had finished before the kill, the remote SHA-256 matches and it is only marked done;
- pull: bytes land in ``.<name>.mft-part`` beside the destination, resumed with ``Range``, checked
  against the gateway's SHA-256 and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.agent.api import AgentApi
from gateway.agent.partner import Partner, Stopped, vfs_url
from gateway.agent.state import StateFile
from gateway.agent.transfer import Reporter

log = logging.getLogger("gateway.agent")
PART = ".mft-part"
_VFS_PREFIX = re.compile(r"[A-Za-z0-9_.~-]{2,}:(/.*)")


@dataclass
class Context:
    api: AgentApi
    partner: Partner
    state: StateFile
    stop: Callable[[], bool]
    agent_id: str | None
    server: str  # the gateway's base URL: transfers name the /2.0 side by its full URL

    @property
    def scheme(self) -> str:
        return self.server.split(":", 1)[0]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def size_of(path: Path) -> int:
    """Length of a local file, 0 when it does not exist (a partial download not started)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _join(folder: str, name: str) -> str:
    return f"{folder.rstrip('/')}/{name}"


def vfs_side(path: str) -> str:
    """The VFS side of a job may be written ``<vfs>:<path>`` (as gateway jobs are) or as a plain
    path; the agent reaches its VFS through its contract, so the name is dropped."""
    match = _VFS_PREFIX.fullmatch(path)
    return match.group(1) if match else path


def local_files(folder: Path) -> list[str]:
    """Regular files of a local folder, sorted; dot-files (our partial downloads) are left out."""
    return sorted(e.name for e in os.scandir(folder) if e.is_file(follow_symlinks=False) and not e.name.startswith("."))


async def execute(ctx: Context, job: dict[str, Any], run: dict[str, Any]) -> None:
    """Copy every file of the run; raises ``Stopped`` on a stop request (the checkpoint stays)."""
    direction = str(job.get("direction", "push"))
    source, destination = str(job["sourcePath"]), str(job["destinationPath"])
    if direction == "pull":
        source = vfs_side(source)
    else:
        destination = vfs_side(destination)
    if direction == "pull":
        names = await ctx.partner.files(source)
        await asyncio.to_thread(Path(destination).mkdir, parents=True, exist_ok=True)
    else:
        names = await asyncio.to_thread(local_files, Path(source))
    checkpoint = ctx.state.run() or {}
    for name in names:
        if ctx.stop():
            raise Stopped()
        if name in checkpoint.get("done", []):
            continue
        current = checkpoint.get("current") or {}
        resumed = current.get("transferId") if current.get("name") == name else None
        if direction == "pull":
            moved = await _pull_one(ctx, job, run, _join(source, name), Path(destination) / name, resumed)
        else:
            moved = await _push_one(ctx, job, run, Path(source) / name, _join(destination, name), resumed)
        checkpoint = ctx.state.run() or {}
        checkpoint.setdefault("done", []).append(name)
        if moved is not None:
            checkpoint["files"] = int(checkpoint.get("files", 0)) + 1
            checkpoint["bytes"] = int(checkpoint.get("bytes", 0)) + moved
        checkpoint["current"] = None
        ctx.state.set_run(checkpoint)


async def _start(ctx: Context, job: dict[str, Any], run: dict[str, Any], name: str, body: dict[str, Any]) -> str:
    """A new transfer row, its id checkpointed before a single byte moves."""
    body = {**body, "protocol": ctx.scheme}
    transfer_id = await ctx.api.new_transfer(body)
    checkpoint = ctx.state.run() or {}
    checkpoint["current"] = {"name": name, "transferId": transfer_id}
    ctx.state.set_run(checkpoint)
    return transfer_id


async def _push_one(
    ctx: Context, job: dict[str, Any], run: dict[str, Any], source: Path, target: str, resumed: str | None
) -> int | None:
    """Bytes moved, None when the file was already there."""
    size = size_of(source)
    local_sha = await asyncio.to_thread(sha256_of, source)
    remote = await ctx.partner.stat(target)
    if remote is not None and remote.sha256 == local_sha and resumed is None:
        return None  # already there, nothing to move
    body = {"sourceUrl": f"file://{source}", "destinationPath": target, "direction": "push", "size": size}
    transfer_id = resumed or await _start(ctx, job, run, source.name, body)
    reporter = Reporter(ctx.api, transfer_id, size)
    if remote is not None and remote.sha256 == local_sha:
        log.info("%s: already uploaded before the restart", target)
        await reporter.completed(local_sha)
        return size
    await reporter.begin()
    try:
        sent_sha = await ctx.partner.upload(source, target, reporter.progress, ctx.stop, transfer_id)
    except Stopped:
        raise
    except Exception as exc:
        await reporter.failed(0, str(exc))
        raise
    await reporter.completed(sent_sha)
    log.info("%s → %s: %d bytes", source, target, size)
    return size


async def _pull_one(
    ctx: Context, job: dict[str, Any], run: dict[str, Any], source: str, target: Path, resumed: str | None
) -> int | None:
    """Bytes moved, None when the file was already there (or is gone from the VFS)."""
    remote = await ctx.partner.stat(source)
    if remote is None:
        return None  # gone since the listing
    there = size_of(target) == remote.size and await asyncio.to_thread(sha256_of, target) == remote.sha256
    if there and resumed is None:
        return None
    part = target.with_name(f".{target.name}{PART}")
    body = {
        "sourceUrl": f"{ctx.server}/2.0/files/{vfs_url(source)}",
        "destinationPath": str(target),
        "direction": "pull",
        "size": remote.size,
    }
    transfer_id = resumed or await _start(ctx, job, run, target.name, body)
    reporter = Reporter(ctx.api, transfer_id, remote.size)
    if there:
        log.info("%s: already downloaded before the restart", target)
        await reporter.completed(remote.sha256)
        return remote.size
    await reporter.begin(size_of(part))
    try:
        got = await ctx.partner.download(source, part, reporter.progress, ctx.stop, transfer_id)
        sha = await asyncio.to_thread(sha256_of, part)
        if sha != got.sha256:
            part.unlink()
            raise ValueError(f"{source}: SHA-256 mismatch after download ({sha} != {got.sha256})")
    except Stopped:
        raise
    except Exception as exc:
        await reporter.failed(0, str(exc))
        raise
    os.replace(part, target)
    part.with_name(part.name + ".etag").unlink(missing_ok=True)
    await reporter.completed(sha)
    log.info("%s → %s: %d bytes", source, target, remote.size)
    return remote.size
