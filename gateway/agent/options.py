"""The ``agent`` subcommand's options, parsed once into a frozen ``AgentOptions``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AgentOptions:
    server: str
    key: str | None
    enroll: str | None
    name: str
    state_dir: Path
    heartbeat_seconds: float
    poll_seconds: float
    ca_file: Path | None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0.05 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"expected 0.05 to 86400 seconds, got {text!r}")
    return value


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``mft-gateway agent`` (called from gateway/cli.py)."""
    import socket

    a = sub.add_parser("agent", help="run a transfer agent: heartbeats, claims its jobs, moves files")
    a.add_argument("--server", required=True, help="the gateway's base URL, e.g. https://mft.example.com")
    who = a.add_mutually_exclusive_group()
    who.add_argument("--key", help="the agent's API key (mft_ak_...); or GATEWAY_AGENT_KEY")
    who.add_argument("--enroll", metavar="ID", help="register with this enrollment identifier, keep the key")
    a.add_argument("--name", default=socket.gethostname(), help="agent name when enrolling (default: hostname)")
    a.add_argument(
        "--state-dir", type=Path, default=Path("agent-state"), help="checkpoint and key (default agent-state)"
    )
    a.add_argument("--heartbeat-seconds", type=_seconds, default=30.0, help="heartbeat period (default 30)")
    a.add_argument("--poll-seconds", type=_seconds, default=15.0, help="job poll period (default 15)")
    a.add_argument("--ca-file", type=Path, help="PEM CA bundle that signs the gateway's certificate")
    a.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import os

    from gateway.agent.main import run

    options = AgentOptions(
        server=args.server.rstrip("/"),
        key=args.key or os.environ.get("GATEWAY_AGENT_KEY") or None,
        enroll=args.enroll,
        name=args.name,
        state_dir=args.state_dir,
        heartbeat_seconds=args.heartbeat_seconds,
        poll_seconds=args.poll_seconds,
        ca_file=args.ca_file,
    )
    return run(options)
