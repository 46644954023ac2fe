"""The serving process's garbage collector (gateway.serve.settle_heap), in a fresh interpreter:
what exists before serving is frozen, a steady load does not trigger passes, and cyclic
garbage that piles up is still collected without anyone calling gc.collect()."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import gc, json, weakref
from gateway import serve
from gateway.app import create_app
from gateway.settings import Settings

create_app(Settings.from_env())
serve.settle_heap()
frozen, threshold = gc.get_freeze_count(), gc.get_threshold()[0]
passes = sum(s["collections"] for s in gc.get_stats())

class Node:
    pass

live = []  # a steady load: objects made and dropped, at most a few thousand alive at once
for i in range(20_000):
    live.append([i, {"k": i}])
    if len(live) > 2_000:
        live.pop(0)
steady = sum(s["collections"] for s in gc.get_stats()) - passes

first = Node()
first.me = first
probe = weakref.ref(first)
del first
for _ in range(30_000):  # cycles nobody frees: only the collector can
    n = Node()
    n.me = n
print(json.dumps({"frozen": frozen, "threshold": threshold, "steady": steady, "cycle_freed": probe() is None}))
"""


def test_a_serving_process_freezes_its_start_and_collects_only_piled_up_garbage() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout
    seen = json.loads(out.splitlines()[-1])
    assert seen["frozen"] > 10_000  # the modules, the configuration and the app
    assert seen["threshold"] == 10_000
    assert seen["steady"] == 0  # with CPython's default threshold (700): 5 passes here
    assert seen["cycle_freed"] is True
