"""Five real minutes, two gateway processes on one PostgreSQL, a ``* * * * *`` schedule: every
tick in the window fires exactly once, also when one process is SIGKILLed mid-way and restarted.

No shortened clock here (tests/e2e/test_schedules.py covers many ticks on a 3 s "minute"): this
is the real cron minute, the real catalog clock and the real claim, so it takes about six
minutes. The window is the five minute boundaries after both peers are ready; peer 1 is killed
(SIGKILL: no shutdown, no cleanup) between the third and the fourth tick and started again
before the fourth.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests import pg
from tests.e2e.harness import Gateway
from tests.e2e.schedule_world import schedule_config

pytestmark = pytest.mark.e2e

MINUTE_US = 60_000_000
TICKS = 5
SETTLE_SECONDS = 20.0  # after the last tick: time for it to fire and its run to finish


@pytest.fixture
def database() -> Iterator[str]:
    with pg.fresh_database() as url:
        yield url


def _sleep_until(moment: float) -> None:
    while (left := moment - time.time()) > 0:
        time.sleep(min(left, 5.0))


def test_five_real_minutes_five_runs_across_two_peers_and_a_sigkill(database: str, tmp_path_factory: Any) -> None:
    peers = [
        Gateway(root=tmp_path_factory.mktemp(f"real{i}"), database_url=database, config=schedule_config("minutely"))
        for i in (1, 2)
    ]
    for peer in peers:
        peer.start()
    try:
        first = (int(time.time()) // 60 + 1) * 60  # the first whole minute after both are ready
        last = first + (TICKS - 1) * 60
        _sleep_until(first + 2.5 * 60 + 15)  # between the third and the fourth tick
        killed_pid = peers[0].process.pid if peers[0].process else 0
        peers[0].kill()
        time.sleep(5)
        peers[0].start()
        _sleep_until(last + SETTLE_SECONDS)
        for peer in peers:
            peer.stop()
    finally:
        for peer in peers:
            peer.kill()
    ticks = pg.fetch(
        database, "SELECT tick, run_id, fired_by FROM schedule_ticks WHERE schedule = 'minutely/0' ORDER BY tick"
    )
    runs = pg.fetch(database, "SELECT id, status, trigger FROM runs WHERE kind = 'task' AND action = 'minutely'")
    window = [t for t in ticks if first * 1_000_000 <= t["tick"] <= last * 1_000_000]
    assert [t["tick"] for t in window] == [(first + 60 * i) * 1_000_000 for i in range(TICKS)], ticks
    assert all(t["run_id"] for t in window), window  # each tick has its run
    times = [t["tick"] for t in ticks]  # also outside the window: none doubled, none skipped
    assert all(b - a == MINUTE_US for a, b in zip(times, times[1:], strict=False)), times
    by_id = {r["id"]: r for r in runs}
    assert sorted(t["run_id"] for t in ticks) == sorted(by_id)  # one run per tick, and no other
    assert {r["trigger"] for r in runs} == {"schedule"}
    assert all(by_id[t["run_id"]]["status"] == "Finished" for t in window), runs
    firers = {t["fired_by"].split(":")[1] for t in window}
    restarted = str(peers[0].process.pid if peers[0].process else "")
    assert firers <= {str(killed_pid), restarted, str(peers[1].process.pid if peers[1].process else "")}
