"""The one route table of the partner API (plus the load balancer's probes)."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import BaseRoute, Route

from gateway.http import (
    admin,
    admin_keys,
    admin_security,
    admin_tasks,
    apidocs,
    auth,
    automate,
    files,
    health,
    jobs,
    listing,
    metadata,
    mftplus,
    oauth2,
    token,
)


class AnyPathConvertor(Convertor[str]):
    """Like Starlette's ``path``, but also across line breaks (``.`` without DOTALL stops at
    ``%0A``), so such a path reaches the validator and gets its 400 instead of a route 404."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anypath", AnyPathConvertor())

ROUTES: list[BaseRoute] = [
    Route("/health", health.health, methods=["GET"], name="health"),
    Route("/ready", health.ready, methods=["GET"], name="ready"),
    Route("/2.0/login/basic", auth.login, methods=["POST"], name="auth:login"),
    Route("/2.0/logout", auth.logout, methods=["POST"], name="auth:logout"),
    Route("/2.0/files/{path:anypath}", files.put, methods=["PUT"], name="files:upload"),
    Route("/2.0/files/{path:anypath}", files.post, methods=["POST"], name="files:upload-with-metadata"),
    Route("/2.0/files/{path:anypath}", files.get, methods=["GET"], name="files:download"),
    Route("/2.0/files/{path:anypath}", files.delete, methods=["DELETE"], name="files:delete"),
    Route("/2.0/metadata/{path:anypath}", metadata.get, methods=["GET"], name="metadata:read"),
    Route("/2.0/meadata/{path:anypath}", metadata.get, methods=["GET"], name="metadata:read-documented"),
    Route("/2.0/metadata/{path:anypath}", metadata.post, methods=["POST"], name="metadata:write"),
    Route("/2.0/directories", listing.directories, methods=["GET"], name="listing:root"),
    Route("/2.0/directories/{path:anypath}", listing.directories, methods=["GET"], name="listing:directories"),
    Route("/2.0/countelements", listing.countelements, methods=["GET"], name="listing:count-root"),
    Route("/2.0/countelements/{path:anypath}", listing.countelements, methods=["GET"], name="listing:count"),
    *admin.ROUTES,
    *admin_keys.ROUTES,
    Route("/token", token.token, methods=["POST"], name="token:apikey"),
    *oauth2.ROUTES,
    *admin_security.ROUTES,
    Route("/openapi.json", apidocs.openapi_json, methods=["GET"], name="openapi"),
    Route("/docs", apidocs.docs_page, methods=["GET"], name="docs"),
    Route("/docs/{asset}", apidocs.docs_asset, methods=["GET"], name="docs:asset"),
    *jobs.ROUTES,
    *automate.ROUTES,
    *admin_tasks.ROUTES,
    *mftplus.ROUTES,
]
