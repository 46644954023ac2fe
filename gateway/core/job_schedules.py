"""The schedules of seed 001's jobs, as the scheduler and the jobs service both see them.

Kept apart from :mod:`gateway.core.jobs` so the scheduler can fire the ticks of gateway-run
jobs (no agent) without importing the service that itself uses the scheduler's cron math."""

from __future__ import annotations

from types import MappingProxyType

from gateway.catalog import jobs as catalog
from gateway.catalog.jobs import JobRecord
from gateway.config.schema import Schedule
from gateway.core.runtime import Runtime

TASK_PREFIX = "job-"  # the implicit task (and schedule) of job <id> is "job-<id>"


def schedule_of(job: JobRecord) -> Schedule:
    return Schedule(
        name=TASK_PREFIX + job.id, task=TASK_PREFIX + job.id, cron=job.schedule, timezone=job.timezone,
        enabled=job.enabled, misfire="skip", params=MappingProxyType({}),
    )  # fmt: skip


async def gateway_schedules(rt: Runtime) -> list[Schedule]:
    """The schedules the scheduler fires for enabled jobs without an agent."""
    return [schedule_of(job) for job in await catalog.gateway_jobs(rt.db)]
