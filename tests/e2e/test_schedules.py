"""Two gateway processes on one PostgreSQL with a ``* * * * *`` schedule: every tick fires
exactly once, also across a SIGKILL of one of them.

The minute is shortened to 3 s with ``GATEWAY_TEST_SCHEDULE_MINUTE_SECONDS`` (see
gateway/core/scheduler.py): cron runs on a faster clock, and everything that makes a tick fire
once (the (schedule, tick) primary key, the catalog's clock, the claim of runs) is unchanged.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests import pg
from tests.e2e.harness import Gateway
from tests.e2e.schedule_world import schedule_config

pytestmark = pytest.mark.e2e

MINUTE = 3.0  # seconds of real time per cron minute in this test


@pytest.fixture
def database() -> Iterator[str]:
    with pg.fresh_database() as url:
        yield url


def test_each_tick_fires_once_across_two_peers_and_a_sigkill(database: str, tmp_path_factory: Any) -> None:
    env = {"GATEWAY_TEST_SCHEDULE_MINUTE_SECONDS": str(MINUTE)}
    peers = [
        Gateway(
            root=tmp_path_factory.mktemp(f"peer{i}"), database_url=database, config=schedule_config("tick"), env=env
        )
        for i in (1, 2)
    ]
    for peer in peers:
        peer.start()
    try:
        time.sleep(MINUTE * 3.5)
        killed_at = time.time()
        peers[0].kill()  # SIGKILL: no shutdown, no cleanup
        time.sleep(MINUTE * 3.5)
        admin = peers[1].client("root")
        try:
            (view,) = admin.get("/admin/schedules").json()["schedules"]
        finally:
            admin.close()
        stopped_at = time.time()
        peers[1].stop()
    finally:
        for peer in peers:
            peer.kill()
    ticks = pg.fetch(
        database, "SELECT tick, run_id, fired_by FROM schedule_ticks WHERE schedule = 'tick/0' ORDER BY tick"
    )
    runs = pg.fetch(
        database, "SELECT id, status, trigger FROM runs WHERE kind = 'task' AND action = 'tick' ORDER BY id"
    )
    period_us = int(MINUTE * 1_000_000)
    times = [t["tick"] for t in ticks]
    assert len(times) >= 5, ticks
    assert all(b - a == period_us for a, b in zip(times, times[1:], strict=False)), times  # none lost, none doubled
    assert times[0] / 1e6 < killed_at < times[-1] / 1e6  # the series spans the kill
    assert times[-1] / 1e6 > stopped_at - MINUTE - 1.5  # and kept going on the survivor
    assert sorted(t["run_id"] for t in ticks) == [r["id"] for r in runs]  # one run per tick, and no other
    assert {r["trigger"] for r in runs} == {"schedule"}
    workers = {t["fired_by"].split(":")[1] for t in ticks}
    assert str(peers[1].process.pid if peers[1].process else "") in workers  # the survivor fired ticks
    assert view["name"] == "tick/0" and view["cron"] == "* * * * *" and view["timezone"] == "Europe/Paris"
    shown_last = datetime.datetime.fromisoformat(view["lastFireAt"].replace("Z", "+00:00")).timestamp()
    shown_next = datetime.datetime.fromisoformat(view["nextFireAt"].replace("Z", "+00:00")).timestamp()
    assert shown_last * 1e6 in times and view["lastRunId"] is not None
    assert round((shown_next - shown_last) * 1e6) % period_us == 0 and shown_next > shown_last
    finished = [r for r in runs if r["status"] == "Finished"]
    assert len(finished) >= len(runs) - 1  # at most the run the killed peer held is left in progress
