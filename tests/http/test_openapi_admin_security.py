"""The abuse-control admin fragment documents exactly its routes, and its references resolve."""

from __future__ import annotations

import json
import re

from starlette.routing import Route

from gateway.http import admin_security
from gateway.openapi import admin_security as fragment, common


def test_openapi_admin_security_documents_every_route_and_method() -> None:
    documented = {(path, method.upper()) for path, item in fragment.PATHS.items() for method in item}
    served = set()
    for route in admin_security.ROUTES:
        assert isinstance(route, Route)
        path = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", route.path)
        served |= {(path, m) for m in (route.methods or ()) if m != "HEAD"}
    assert documented == served


def test_openapi_admin_security_references_resolve_within_the_fragment_or_common() -> None:
    text = json.dumps([fragment.PATHS, fragment.SCHEMAS])
    refs = set(re.findall(r'"\$ref": "#/components/schemas/(\w+)"', text))
    assert "Error" in refs  # the one /admin error envelope, not a copy of it
    assert refs <= set(fragment.SCHEMAS) | set(common.SCHEMAS)
