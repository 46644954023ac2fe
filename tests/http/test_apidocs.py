"""/openapi.json and /docs inside another ASGI app: links follow the mount point."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.settings import Settings


def test_apidocs_docs_page_and_document_follow_the_mount_prefix(settings: Settings) -> None:
    with TestClient(Starlette(routes=[Mount("/mft", app=create_app(settings))])) as client:
        page = client.get("/mft/docs")
        assert page.status_code == 200
        assert 'data-spec="/mft/openapi.json"' in page.text
        assert 'src="/mft/docs/swagger-ui-bundle.js"' in page.text
        css = client.get("/mft/docs/swagger-ui.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert client.get("/mft/openapi.json").json()["servers"] == [{"url": "/mft"}]
