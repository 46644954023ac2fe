"""Schedules: cron ticks turned into task runs, each tick exactly once across all peers.

Every gateway process runs :func:`run`. It reads the time from the catalog (PostgreSQL's clock
when peers share one, so skewed hosts agree on which ticks are due), computes each enabled
schedule's ticks in its IANA zone with croniter (minute granularity; DST gaps and repeats are
croniter's), and fires each due tick by inserting the ``(schedule, tick)`` row together with the
run (:func:`gateway.core.tasks.fire_tick`). The primary key of that row is the whole of the
exactly-once guarantee: a second peer's insert of the same tick fails, whoever is first, and a
peer killed before its commit leaves no row, so another peer fires the tick on its next pass.
The runs themselves are claimed like any other (``FOR UPDATE SKIP LOCKED`` on PostgreSQL).

Misfires: a tick more than :func:`grace_us` in the past when first seen (no peer was up) is
skipped with ``misfire: skip``; with ``run_once`` the latest such tick fires, once.

Tests shorten the minute with ``GATEWAY_TEST_SCHEDULE_MINUTE_SECONDS`` (e.g. 4): cron is then
evaluated on a clock that runs 60/4 times faster. Only the mapping between real and cron time
changes; claiming, the tick rows and misfire handling are the same code.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from croniter import croniter

from gateway.catalog import tasks as catalog
from gateway.config.schema import Schedule
from gateway.core import job_schedules, tasks
from gateway.core.runtime import Runtime
from gateway.core.timefmt import now_us

log = logging.getLogger("gateway.scheduler")
_US = 1_000_000
_MINUTE_ENV = "GATEWAY_TEST_SCHEDULE_MINUTE_SECONDS"


def minute_seconds() -> float:
    value = os.environ.get(_MINUTE_ENV, "")
    try:
        return max(1.0, min(60.0, float(value))) if value else 60.0
    except ValueError:
        return 60.0


def poll_seconds() -> float:
    return minute_seconds() / 12  # 5 s for real minutes


def grace_us() -> int:
    """How late a tick may still fire on time: several passes, so a peer that dies mid-pass
    leaves the tick to the next pass of any other peer."""
    return int(poll_seconds() * 4 * _US)


def _scale() -> float:
    return 60.0 / minute_seconds()


def _to_cron(real_us: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(real_us * _scale() / _US, tz=datetime.UTC)


def _to_real(moment: datetime.datetime) -> int:
    return round(moment.timestamp() / _scale() * _US)


def _iter(schedule: Schedule, start_real_us: int) -> croniter:
    start = _to_cron(start_real_us).astimezone(ZoneInfo(schedule.timezone))
    return croniter(schedule.cron, start)


def _repeated_wall_time(moment: datetime.datetime) -> bool:
    """Whether ``moment`` (zone-aware) is the second pass of a wall time the clocks went back over."""
    return moment.fold == 1 and moment.replace(fold=0).utcoffset() != moment.utcoffset()


def next_tick(schedule: Schedule, after_us: int) -> int:
    """The first tick strictly after ``after_us`` (real microseconds).

    DST: a wall time that does not exist (spring forward) fires at the first valid time after
    it (croniter's rule); a wall time that occurs twice (fall back) fires once, on its first
    pass, unless the hour field is ``*`` (an hourly job keeps firing every real hour)."""
    ticks = _iter(schedule, after_us)
    hourly = schedule.cron.split()[1] == "*"
    for _ in range(4):
        moment = ticks.get_next(datetime.datetime)
        if hourly or not _repeated_wall_time(moment):
            break
    return _to_real(moment)


def previous_tick(schedule: Schedule, at_us: int) -> int:
    """The latest tick at or before ``at_us``."""
    return _to_real(_iter(schedule, at_us + 1).get_prev(datetime.datetime))


def due_ticks(schedule: Schedule, last: int | None, now: int) -> list[int]:
    """The ticks to fire at ``now`` given the last fired one, per the misfire policy."""
    horizon = now - grace_us()
    start = horizon if last is None or last < horizon else last
    due: list[int] = []
    tick = next_tick(schedule, start)
    while tick <= now and len(due) < 100:
        due.append(tick)
        tick = next_tick(schedule, tick)
    if schedule.misfire == "run_once" and last is not None and last < horizon:
        missed = previous_tick(schedule, horizon)
        if missed > last and missed not in due:
            due.insert(0, missed)
    return due


@dataclass(frozen=True, slots=True)
class ScheduleView:
    schedule: Schedule
    next_fire: int | None
    last_fire: int | None
    last_run: int | None


async def views(rt: Runtime) -> list[ScheduleView]:
    """Every configured schedule with its next and last fire times (for the APIs)."""
    now = await catalog.db_now_us(rt.db, now_us())
    result = []
    for task in rt.config.tasks.tasks.values():
        for schedule in task.schedules:
            last = await catalog.last_tick(rt.db, schedule.name)
            result.append(
                ScheduleView(
                    schedule,
                    next_tick(schedule, now) if schedule.enabled else None,
                    None if last is None else last[0],
                    None if last is None else last[1],
                )
            )
    return result


async def fire_due(rt: Runtime, worker: str) -> int:
    """One pass over every enabled schedule; returns the number of runs this peer queued."""
    now = await catalog.db_now_us(rt.db, now_us())
    fired = 0
    configured = [s for task in rt.config.tasks.tasks.values() for s in task.schedules]
    # i13b: seed 001's jobs without an agent are task runs fired by the same tick machinery.
    for schedule in configured + await job_schedules.gateway_schedules(rt):
        if not schedule.enabled:
            continue
        last = await catalog.last_tick(rt.db, schedule.name)
        for tick in due_ticks(schedule, None if last is None else last[0], now):
            run_id = await tasks.fire_tick(rt, schedule.name, schedule.task, tick, schedule.params, worker)
            if run_id:
                fired += 1
                log.info("schedule %s fired tick %d as run %d", schedule.name, tick, run_id)
    return fired


async def run(rt: Runtime, worker: str) -> None:
    # Runs even with no configured schedule: jobs (seed 001) are created at run time.
    while True:
        try:
            await fire_due(rt, worker)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("scheduler pass failed")
        await asyncio.sleep(poll_seconds())
