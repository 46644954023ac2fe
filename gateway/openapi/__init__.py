"""The OpenAPI 3.1 document of the whole gateway, assembled from one fragment module per API.

Every module in this package (other than this one) that defines ``PATHS`` (OpenAPI path items,
keyed by path) and optionally ``SCHEMAS`` (``components/schemas``) and ``SECURITY_SCHEMES``
(``components/securitySchemes``) contributes them. A façade documents its own endpoints next to
nothing else, and a path or component named twice is a bug reported at assembly time.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def _merge(target: dict[str, Any], extra: dict[str, Any], where: str) -> None:
    for key, value in extra.items():
        if key in target:
            raise ValueError(f"OpenAPI: {key!r} is declared twice (again in {where})")
        target[key] = value


def document(title: str = "mft-gateway", version: str = "0.1.0") -> dict[str, Any]:
    """The OpenAPI 3.1 document, built from every fragment module of this package."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    schemes: dict[str, Any] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        where = f"{__name__}.{info.name}"
        _merge(paths, getattr(module, "PATHS", {}), where)
        _merge(schemas, getattr(module, "SCHEMAS", {}), where)
        _merge(schemes, getattr(module, "SECURITY_SCHEMES", {}), where)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": schemes},
    }
