"""Seed 001's MFTPlus REST API under ``/api``: health, agents, transfers, jobs, pipelines.

Each module owns its routes and maps to the core; the envelope, paging and error mapping live
in :mod:`gateway.http.mftplus.envelope`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from gateway.core.agents import StateError
from gateway.http.exception_handlers import STATUS
from gateway.http.mftplus import agents, health, jobs as api_jobs, pipelines as api_pipelines, transfers

STATUS.setdefault(StateError, 409)

ROUTES: list[BaseRoute] = [
    # i13a: health, agents, transfers
    Route("/api/health", health.health, methods=["GET"], name="api:health"),
    *agents.ROUTES,
    *transfers.ROUTES,
    # i13b: jobs and pipelines
    *api_jobs.ROUTES,
    *api_pipelines.ROUTES,
]
