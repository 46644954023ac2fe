"""The OpenAPI fragments of the machine-access endpoints cover exactly their routes."""

from __future__ import annotations

from starlette.routing import Route

from gateway.http import admin_keys, oauth2
from gateway.http.routes import ROUTES
from gateway.openapi import admin_keys as admin_keys_doc, document, tokens as tokens_doc


def _documented(paths: dict[str, dict[str, object]]) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in paths.items() for method in item}


def test_every_machine_access_route_is_documented_and_nothing_else() -> None:
    routes = [*admin_keys.ROUTES, *oauth2.ROUTES, *(r for r in ROUTES if getattr(r, "name", "") == "token:apikey")]
    served = {(r.path, m) for r in routes if isinstance(r, Route) for m in (r.methods or ()) if m != "HEAD"}
    assert served == _documented(tokens_doc.PATHS) | _documented(admin_keys_doc.PATHS)


def test_fragments_assemble_and_every_reference_resolves() -> None:
    doc = document()
    components = doc["components"]
    text = repr(doc)
    for ref in {part.split("'")[0] for part in text.split("#/components/schemas/")[1:]}:
        assert ref in components["schemas"], ref
    for operation in [op for item in tokens_doc.PATHS.values() for op in item.values()]:
        for scheme in (name for requirement in operation.get("security", []) for name in requirement):
            assert scheme in components["securitySchemes"]
