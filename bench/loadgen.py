"""Clients: curl for single big transfers, wrk (with ``wrk_small.lua``) for many small requests.

Both are C programs, so the client costs little CPU next to the server it measures; the run
still records the client's CPU time so a client-bound peer (nginx) can be told apart.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "wrk_small.lua"


def small_content(base: bytes, i: int) -> bytes:
    """File ``i`` of a small-file set: 16 ASCII digits, then the base payload (as the Lua script)."""
    return f"{i:016d}".encode() + base[16:]


def small_name(i: int) -> str:
    return f"{i:05d}"


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


@dataclass
class WrkResult:
    count: int
    ok: int
    bad: int
    seconds: float
    client_cpu: float
    latency_p50_ms: float
    latency_p99_ms: float
    errors: dict[str, int]
    raw: dict[str, object]

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


def run_wrk(
    url: str,
    mode: str,
    count: int,
    prefix: str,
    payload: Path,
    *,
    cookie: str = "",
    multipart: bool = False,
    connections: int = 16,
    threads: int = 2,
    timeout: float = 600.0,
    log: Path | None = None,
) -> WrkResult:
    """``count`` requests (``mode`` put or get) of ``prefix + %05d`` over ``connections`` connections."""
    if count < threads:
        raise ValueError("count must be at least the number of wrk threads")
    done = Path(tempfile.mkdtemp(prefix="wrk-done-"))
    try:
        env = dict(os.environ)
        env.update(
            BENCH_MODE=mode,
            BENCH_COUNT=str(count),
            BENCH_THREADS=str(threads),
            BENCH_PREFIX=prefix,
            BENCH_PAYLOAD=str(payload),
            BENCH_MULTIPART="1" if multipart else "0",
            BENCH_COOKIE=cookie,
            BENCH_DONE=str(done),
        )
        args = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{int(timeout) + 60}s"]
        args += ["--timeout", "120s", "-s", str(WRK_SCRIPT), url]
        cpu0 = _children_cpu()
        with tempfile.TemporaryFile() as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
            try:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline and proc.poll() is None:
                    if len(os.listdir(done)) >= threads:
                        break
                    time.sleep(0.01)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)  # wrk's main thread stops sleeping and prints
                proc.wait(60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
            cpu1 = _children_cpu()
            out.seek(0)
            text = out.read().decode(errors="replace")
        if log is not None:
            with log.open("a", encoding="utf-8") as f:
                f.write(f"$ {' '.join(args)}  # {mode} {count} {prefix}\n{text}\n")
        line = next((ln for ln in text.splitlines() if ln.startswith("BENCHJSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no result:\n{text[-3000:]}")
        data = json.loads(line.removeprefix("BENCHJSON "))
        ths = data["threads"]
        ok = sum(t["ok"] for t in ths)
        bad = sum(t["bad"] for t in ths)
        t0 = min(t["t0"] for t in ths if t["t0"] > 0)
        t1 = max(t["t1"] for t in ths)
        if any(t["t1"] <= 0 for t in ths):
            raise RuntimeError(f"wrk did not finish its {count} requests in {timeout:.0f} s: {data}")
        lat = data["latency_us"]
        return WrkResult(
            count=count,
            ok=ok,
            bad=bad,
            seconds=t1 - t0,
            client_cpu=cpu1 - cpu0,
            latency_p50_ms=lat["p50"] / 1000,
            latency_p99_ms=lat["p99"] / 1000,
            errors=data["errors"],
            raw=data,
        )
    finally:
        shutil.rmtree(done, ignore_errors=True)


@dataclass
class CurlResult:
    status: int
    seconds: float
    size: int
    body: bytes


def _curl(args: list[str], timeout: float) -> CurlResult:
    with tempfile.NamedTemporaryFile() as body:
        cmd = ["curl", "-sS", "-H", "Expect:", "-w", "%{http_code} %{time_total} %{size_upload} %{size_download}"]
        cmd += ["-o", "/dev/null" if "--discard" in args else body.name]
        cmd += [a for a in args if a != "--discard"]
        done = subprocess.run(cmd, capture_output=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"curl failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
        code, total, up, down = done.stdout.decode().split()
        return CurlResult(int(code), float(total), int(float(up)) or int(float(down)), Path(body.name).read_bytes())


def curl_put(url: str, src: Path, *, cookie: str = "", multipart: bool = False, timeout: float = 3600) -> CurlResult:
    """Upload ``src``: raw ``PUT`` (WebDAV) or the gateway's ``PUT -F file=@src``; curl's own timing."""
    args = ["-H", f"Cookie: {cookie}"] if cookie else []
    if multipart:
        args += ["-X", "PUT", "-F", f"file=@{src};type=application/octet-stream"]
    else:
        args += ["-T", str(src)]
    return _curl(args + [url], timeout)


def curl_get(url: str, *, cookie: str = "", timeout: float = 3600) -> CurlResult:
    """Download to /dev/null (sendfile on the server side, nothing written on ours)."""
    args = ["-H", f"Cookie: {cookie}"] if cookie else []
    return _curl(args + ["--discard", url], timeout)
