#!/usr/bin/env python3
"""A/B: the same gateway setup from two source trees, small-file rounds interleaved.

    .venv/bin/python bench/ab.py --base HEAD~1 [--candidate .] [--rounds 8] [--count 2000]
                                  [--durable] [--workers N] [--base-workers N] [--http-server granian]

On a shared 2-core VM, two runs of ``run.py`` minutes apart differ by 20 % for unchanged code,
which hides the 5-20 % a change to the hot path is worth. Here both trees run side by side,
each round runs the two alternately (the order flips every round), and the figure compared is
the server's **CPU time per request**, which moves much less with the host's load than the rate.

``--base`` is a git revision, checked out into the work dir with ``git worktree``;
``--candidate`` is a directory (default: this working tree, uncommitted changes included).
Each gateway is started with ``PYTHONPATH`` pointing at its tree, from this venv.
``--base-workers`` runs the base with another ``server.workers`` than the candidate: with
``--base HEAD`` and a clean tree, ``--workers 2 --base-workers 1`` measures what a second worker
costs per request, interleaved like any other comparison.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
import servers
from servers import Server

REPO = Path(__file__).resolve().parent.parent


def start(name: str, tree: Path, work: Path, args: argparse.Namespace, pw_hash: str) -> Server:
    env_path = {"PYTHONPATH": str(tree)}
    workers = args.base_workers if name == "base" and args.base_workers else args.workers
    server = servers.prepare_gateway(
        work / name, name, args.durable, args.http_server, workers, pw_hash, extra_env=env_path
    )
    servers.start_gateway(server)
    probe = subprocess.run(
        [sys.executable, "-c", "import gateway; print(gateway.__file__)"],
        capture_output=True,
        text=True,
        env=servers.gateway_env(env_path),
        cwd=work,
        check=True,
    )
    if not probe.stdout.startswith(str(tree)):
        raise RuntimeError(f"{name} would import gateway from {probe.stdout.strip()}, not {tree}")
    return server


def one_round(server: Server, tag: str, payload: Path, count: int) -> tuple[float, float, float, float]:
    """Uploads then downloads of ``count`` files: (upload req/s, upload CPU ms, download req/s, download CPU ms)."""
    prefix = f"/2.0/files/small/{tag}-"
    out: list[float] = []
    for mode in ("put", "get"):
        cpu0 = server.cpu_seconds()
        res = loadgen.run_wrk(
            server.url + "/", mode, count, prefix, payload, cookie=server.cookie, multipart=mode == "put"
        )
        cpu = server.cpu_seconds() - cpu0
        if res.ok != count or res.bad:
            raise RuntimeError(f"{server.name} {mode}: {res.ok} ok, {res.bad} failed")
        out += [res.rate, cpu / count * 1000]
    return out[0], out[1], out[2], out[3]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True, help="git revision of the baseline")
    p.add_argument("--candidate", type=Path, default=REPO, help="source tree of the candidate (default: this one)")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--durable", action="store_true", help="durable storage and catalog (default: relaxed)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--base-workers", type=int, default=0, help="server.workers of the base (default: --workers)")
    p.add_argument("--http-server", default="uvicorn", choices=("uvicorn", "granian"))
    args = p.parse_args()

    from gateway.catalog.passwords import hash_password

    (REPO / "bench" / "work").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ab-", dir=REPO / "bench" / "work"))
    base_tree = work / "base-tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(base_tree), args.base], check=True)
    pw_hash = hash_password(servers.BENCH_PASSWORD)
    payload = work / "small.bin"
    payload.write_bytes(bytes(range(256)) * 16)
    try:
        gws = {
            "base": start("base", base_tree, work, args, pw_hash),
            "candidate": start("candidate", args.candidate.resolve(), work, args, pw_hash),
        }
        results: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in gws}
        for r in range(args.rounds):
            order = ["base", "candidate"] if r % 2 == 0 else ["candidate", "base"]
            for name in order:
                results[name].append(one_round(gws[name], f"r{r}", payload, args.count))
                up, up_ms, down, down_ms = results[name][-1]
                print(
                    f"round {r} {name:9s} upload {up:6.0f} req/s {up_ms:.3f} ms CPU | "
                    f"download {down:6.0f} req/s {down_ms:.3f} ms CPU",
                    flush=True,
                )
        for name, gw in gws.items():  # per process tree: supervisor and workers summed
            print(
                f"RSS {name:9s} idle {gw.rss_ready_kib / 1024:.1f} MiB, after login {gw.rss_login_kib / 1024:.1f} MiB, "
                f"peak {gw.hwm_kib() / 1024:.1f} MiB, now {gw.rss_kib() / 1024:.1f} MiB"
            )
    finally:
        servers.stop_all()
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_tree)], check=False)
    labels = ("upload req/s", "upload CPU ms/req", "download req/s", "download CPU ms/req")
    print(f"\nmedians of {args.rounds} rounds (candidate ÷ base):")
    for i, label in enumerate(labels):
        base = statistics.median(v[i] for v in results["base"])
        cand = statistics.median(v[i] for v in results["candidate"])
        print(f"  {label:20s} base {base:8.3f}  candidate {cand:8.3f}  ratio {cand / base:.3f}")
    print(f"work dir: {work}")


if __name__ == "__main__":
    main()
