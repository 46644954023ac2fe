"""Seed 001's MFTPlus REST API under ``/api``: health, agents, transfers, jobs, pipelines.

Each module owns its routes and maps to the core; the envelope, paging and error mapping live
in :mod:`gateway.http.mftplus.envelope`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from gateway.http.mftplus import jobs as api_jobs, pipelines as api_pipelines

ROUTES: list[BaseRoute] = [
    # i13b: jobs and pipelines
    *api_jobs.ROUTES,
    *api_pipelines.ROUTES,
]
