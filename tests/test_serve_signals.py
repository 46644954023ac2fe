"""SIGTERM around uvicorn (gateway.serve.run_uvicorn), each case in a fresh interpreter.

uvicorn re-raises the signal it stopped on after a graceful shutdown; the gateway's handler
ignores that one, so the process exits 0. A signal that arrives before uvicorn has taken the
signals must still stop the process: a worker whose supervisor is killed while the worker is
starting gets SIGTERM from the kernel (PR_SET_PDEATHSIG) in exactly that window.
"""

from __future__ import annotations

import signal
import subprocess
import sys

_BEFORE_UVICORN = """
import os, signal, socket, time
import uvicorn
from gateway import serve

def run(self, sockets=None):  # the window: the gateway's handler is in place, uvicorn's not yet
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(3)
    print("survived", flush=True)

uvicorn.Server.run = run
sock = serve.bind("127.0.0.1", 0)
serve.run_uvicorn(None, sock, __import__("gateway.settings", fromlist=["Settings"]).Settings.from_env())
"""

_AFTER_UVICORN = """
import os, signal, time
from gateway import serve

signal.signal(signal.SIGTERM, serve._stop_unless({signal.SIGTERM}))
os.kill(os.getpid(), signal.SIGTERM)  # as uvicorn raises it again after stopping on it
time.sleep(0.2)
print("survived", flush=True)
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_a_signal_before_uvicorn_takes_the_signals_stops_the_process() -> None:
    done = _run(_BEFORE_UVICORN)
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert "survived" not in done.stdout


def test_the_signal_uvicorn_stopped_on_is_not_raised_again() -> None:
    done = _run(_AFTER_UVICORN)
    assert done.returncode == 0, done.stderr
    assert "survived" in done.stdout
