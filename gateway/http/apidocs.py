"""GET /openapi.json (the whole gateway's OpenAPI 3.1 document) and GET /docs (Swagger UI).

Swagger UI's files come from the installed ``swagger-ui-bundle-v2`` package and are served by the
gateway itself, so the page works offline and loads nothing from a CDN. The page carries no
inline script (its start-up code is ``/docs/init.js``), which lets it be served under a strict
Content-Security-Policy. Links are absolute under the app's ``root_path``, so the page also works
when the gateway is mounted inside another ASGI app.
"""

from __future__ import annotations

import functools
import html
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from gateway import openapi
from gateway.http.envelope import json_response

# Swagger UI's own files that the page needs, name → media type.
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
INIT_JS = """\
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
"""
PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} API</title>
<link rel="stylesheet" href="{root}/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="{root}/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-spec="{root}/openapi.json"></div>
<script src="{root}/docs/swagger-ui-bundle.js"></script>
<script src="{root}/docs/init.js"></script>
</body>
</html>
"""


@functools.cache
def swagger_ui_dir() -> Path:
    """The installed Swagger UI distribution (``swagger_ui_bundle/vendor/swagger-ui-<version>``)."""
    vendor = Path(str(resources.files("swagger_ui_bundle") / "vendor"))
    found = sorted(vendor.glob("swagger-ui-*"))
    if not found:
        raise RuntimeError(f"no Swagger UI distribution under {vendor}")
    return found[-1]


@functools.cache
def _document() -> dict[str, Any]:
    try:
        version = metadata.version("mft-gateway")
    except metadata.PackageNotFoundError:
        version = "0.0.0"
    return openapi.document(version=version)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


async def openapi_json(request: Request) -> Response:
    body = {**_document(), "servers": [{"url": _root(request) or "/"}]}
    return json_response(body)


async def docs_page(request: Request) -> Response:
    page = PAGE.format(title=html.escape(_document()["info"]["title"]), root=html.escape(_root(request)))
    return Response(page, media_type="text/html", headers={"Content-Security-Policy": CSP})


async def docs_asset(request: Request) -> Response:
    name = request.path_params["asset"]
    if name == "init.js":
        return Response(INIT_JS, media_type="text/javascript; charset=utf-8")
    if name not in ASSETS:
        raise HTTPException(404)
    return FileResponse(swagger_ui_dir() / name, media_type=ASSETS[name], headers={"Cache-Control": "max-age=86400"})
