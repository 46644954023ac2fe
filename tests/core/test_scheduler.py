"""Cron ticks in IANA zones (DST both ways) and the misfire policies, on the pure functions."""

from __future__ import annotations

import datetime

import pytest

from gateway.config.schema import Schedule
from gateway.core import scheduler

UTC = datetime.UTC


def us(text: str) -> int:
    return int(datetime.datetime.fromisoformat(text).timestamp() * 1_000_000)


def iso(value: int) -> str:
    return datetime.datetime.fromtimestamp(value / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M")


def ticks(cron: str, zone: str, start: str, count: int) -> list[str]:
    schedule = Schedule(name="t/0", task="t", cron=cron, timezone=zone)
    result, at = [], us(start)
    for _ in range(count):
        at = scheduler.next_tick(schedule, at)
        result.append(iso(at))
    return result


def test_daily_job_in_paris_follows_the_wall_clock_across_spring_forward() -> None:
    # 02:30 does not exist on 2026-03-29 in Paris: it fires at the first valid time (03:00 CEST).
    assert ticks("30 2 * * *", "Europe/Paris", "2026-03-27T12:00:00+00:00", 3) == [
        "2026-03-28T01:30",  # 02:30 CET
        "2026-03-29T01:00",  # 03:00 CEST
        "2026-03-30T00:30",  # 02:30 CEST
    ]


def test_daily_job_fires_once_when_the_clock_goes_back() -> None:
    # 02:30 happens twice on 2026-10-25 in Paris; the job runs on the first pass only.
    assert ticks("30 2 * * *", "Europe/Paris", "2026-10-23T12:00:00+00:00", 3) == [
        "2026-10-24T00:30",
        "2026-10-25T00:30",  # 02:30 CEST
        "2026-10-26T01:30",  # 02:30 CET, next day
    ]


def test_hourly_job_keeps_firing_every_real_hour_through_fall_back() -> None:
    assert ticks("0 * * * *", "Europe/Paris", "2026-10-24T23:30:00+00:00", 4) == [
        "2026-10-25T00:00",
        "2026-10-25T01:00",  # the second 02:00 local
        "2026-10-25T02:00",
        "2026-10-25T03:00",
    ]


def test_new_york_weekday_job() -> None:
    assert ticks("0 9 * * 1-5", "America/New_York", "2026-11-06T00:00:00+00:00", 2) == [
        "2026-11-06T14:00",  # Friday 09:00 EST (since Nov 1)
        "2026-11-09T14:00",  # Monday
    ]


@pytest.mark.parametrize("misfire", ["skip", "run_once"])
def test_misfire_policies(misfire: str) -> None:
    schedule = Schedule(name="t/0", task="t", cron="* * * * *", misfire=misfire)  # type: ignore[arg-type]
    now = us("2026-06-01T12:00:03+00:00")  # within the grace (4 passes of 5 s)
    on_time = scheduler.due_ticks(schedule, us("2026-06-01T11:59:00+00:00"), now)
    assert [iso(t) for t in on_time] == ["2026-06-01T12:00"]
    late = scheduler.due_ticks(schedule, us("2026-06-01T09:00:00+00:00"), now)  # every peer was down
    expected = ["2026-06-01T12:00"] if misfire == "skip" else ["2026-06-01T11:59", "2026-06-01T12:00"]
    assert [iso(t) for t in late] == expected
    assert scheduler.due_ticks(schedule, us("2026-06-01T12:00:00+00:00"), now) == []  # already fired


def test_a_new_schedule_does_not_fire_old_ticks() -> None:
    schedule = Schedule(name="t/0", task="t", cron="0 * * * *")
    assert scheduler.due_ticks(schedule, None, us("2026-06-01T12:30:00+00:00")) == []
    assert [iso(t) for t in scheduler.due_ticks(schedule, None, us("2026-06-01T12:00:02+00:00"))] == [
        "2026-06-01T12:00"
    ]
