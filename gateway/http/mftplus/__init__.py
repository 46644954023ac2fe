"""Seed 001's MFTPlus REST API under ``/api``: health, agents, transfers, jobs, pipelines.

Each module owns its routes and maps to the core; the envelope, paging and error mapping live
in :mod:`gateway.http.mftplus.envelope`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
