"""The OpenAPI document: valid OpenAPI 3.1, complete (every route documented, nothing invented),
served with its Swagger UI page from packaged files, and true of the live server (schemathesis).

The schemathesis run drives every documented operation of a real ``mft-gateway serve`` with
generated requests (valid ones and, bounded, invalid ones), logged in as a partner who is also an
admin, and fails on any 5xx, any undocumented status, content type or body that does not match
the document. It is bounded by example counts (not by time) and derandomized, so a run is
repeatable and fits a small CI machine.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from openapi_spec_validator import validate
from schemathesis import checks
from starlette.routing import BaseRoute, Mount, Route

from gateway import openapi
from gateway.app import create_app
from gateway.catalog.passwords import hash_password
from gateway.settings import Settings
from tests.e2e.harness import Gateway, default_config, password, password_hash

pytestmark = pytest.mark.e2e

DOCUMENT = openapi.document()
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Writes first and deletes last, so that reads meet the files uploads made.
_ORDER = {"put": 0, "post": 1, "get": 2, "delete": 3}
OPERATIONS = sorted(
    ((path, method) for path, item in DOCUMENT["paths"].items() for method in item if method in METHODS),
    key=lambda op: (_ORDER.get(op[1], 2), op[0]),
)
# Generated requests per operation and mode (valid, invalid); raise it for a deeper local run.
EXAMPLES_PER_MODE = int(os.environ.get("GATEWAY_TEST_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


def _routed(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(OpenAPI path, method) of every route of the app, through mounts; HEAD, which Starlette
    answers wherever GET is routed, is described in the GET operation."""
    for route in routes:
        if isinstance(route, Mount):
            yield from _routed(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            path = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", prefix + route.path)
            yield from ((path, m.lower()) for m in route.methods or () if m != "HEAD")


def test_openapi_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"] == "3.1.0"
    validate(DOCUMENT)  # raises on any violation of the OpenAPI 3.1 schema, including broken $refs


def test_openapi_every_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    app = create_app(Settings(config_dir=tmp_path, data_dir=tmp_path))
    assert set(_routed(app.routes)) == set(OPERATIONS)


# Each façade answers failures in its own shape (longest prefix wins); None: no error body at all.
ERROR_SCHEMAS: dict[str, str] = {
    "/2.0/": "Error",
    "/admin/": "Error",
    "/docs": "Error",
    "/ready": "Error",
    "/token": "OAuthError",
    "/oauth2/": "OAuthError",
    "/v1/oauth/token": "OAuthError",
    "/v1/": "AutomateError",
    "/rest/as/job/": "ExecutionStatus",
    "/api/": "ApiError",  # i13a: seed 001
}
# Seed 004: status and abort of an unknown job are a bare 404.
NO_ERROR_BODY = {("/rest/as/job/status/{jobId}", "get", "404"), ("/rest/as/job/abort/{jobId}", "post", "404")}


def _error_schema(path: str) -> str:
    prefix = max((p for p in ERROR_SCHEMAS if path.startswith(p)), key=len, default=None)
    assert prefix is not None, f"{path}: which façade's error shape?"
    return ERROR_SCHEMAS[prefix]


def test_openapi_every_operation_documents_its_errors_in_its_api_s_shape() -> None:
    for path, method in OPERATIONS:
        operation = DOCUMENT["paths"][path][method]
        assert operation["operationId"]
        assert "security" in operation, (path, method)
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            expected = {"$ref": f"#/components/schemas/{_error_schema(path)}"}
            if (path, method, status) in NO_ERROR_BODY:
                assert "content" not in response, (path, method, status)
                continue
            schema = response["content"]["application/json"]["schema"]
            assert expected in (schema, *schema.get("allOf", ())[:1]), (path, method, status)


def test_openapi_rate_limited_operations_document_429_with_its_headers() -> None:
    """Every operation behind a credential or a token endpoint is charged by the rate limiter."""
    for path, method in OPERATIONS:
        operation = DOCUMENT["paths"][path][method]
        if not operation["security"] and not path.endswith("/token"):
            continue  # the public metadata documents are not counted
        refused = operation["responses"].get("429")
        assert refused is not None, (path, method)
        assert {"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Reset"} <= set(refused["headers"]), (path, method)


def test_openapi_partner_and_admin_operations_with_a_body_document_the_body_timeout() -> None:
    with_body = [(p, m) for p, m in OPERATIONS if "requestBody" in DOCUMENT["paths"][p][m]]
    assert len(with_body) >= 6
    for path, method in with_body:
        if path.startswith(("/2.0/", "/admin/")):
            assert "408" in DOCUMENT["paths"][path][method]["responses"], (path, method)


def test_openapi_one_schema_per_envelope_and_shared_security_schemes() -> None:
    components = DOCUMENT["components"]
    envelopes = [
        name
        for name, schema in components["schemas"].items()
        if {"result", "message", "errorType"} <= set(schema.get("required", ()))
    ]
    assert envelopes == ["Error"]
    schemes = components["securitySchemes"]
    assert set(schemes) == {"stengSession", "stengUser", "bearer", "apiKey", "oauth2", "oauth2ClientBasic"}
    caller: list[dict[str, list[str]]] = [{"stengSession": [], "stengUser": []}, {"bearer": []}, {"apiKey": []}]
    for path, method in OPERATIONS:
        if path.startswith(("/2.0/files", "/2.0/metadata", "/2.0/list", "/admin/")):
            assert DOCUMENT["paths"][path][method]["security"] == caller, (path, method)


JOBS_SCOPE = "api.rest.automation-services-job.execute"
CLIENT, CLIENT_SECRET = "openapi-bot", "openapi-bot-secret"


def _world() -> dict[str, dict[str, Any]]:
    """The default test world; alice is also an admin, and her contract (named as the document's
    examples name it) runs a failing command on uploads, so that /admin has real runs to read and
    retry. An OAuth client of an operator service account reaches /rest/as/job and /v1, whose tasks
    only echo. Loopback is on the defender's safe list and the rate limits are far above what the
    run sends, so generated bad credentials neither ban the run nor turn its answers into 429s."""
    config = default_config()
    config["actors.yaml"]["actors"]["PartnerA"]["users"]["alice"]["admin"] = True
    config["actors.yaml"]["actors"]["Ops"] = {
        "kind": "application",
        "users": {"root": {"password_hash": password_hash("root"), "admin": True}},
        "service_accounts": {"opbot": {"roles": ["operator"]}},
    }
    config["oauth-clients.yaml"] = {
        "clients": {
            CLIENT: {
                "principal": "opbot",
                "scopes": [JOBS_SCOPE, "runs:read", "runs:write"],
                "secret_hash": hash_password(CLIENT_SECRET),
            }
        }
    }
    config["tasks.yaml"] = {
        "tasks": {
            "nightly-report": {
                "params": {"who": "world"},
                "steps": [{"name": "say", "command": {"argv": ["/bin/echo", "hello {param.who}"]}}],
            }
        }
    }
    config["gateway.yaml"]["defender"] = {"safe_list": ["127.0.0.0/8", "::1/128"]}
    config["gateway.yaml"]["rate_limits"] = {
        tier: 1_000_000 for tier in ("public", "authenticated", "agent", "transfer")
    }
    contract = config["contracts.yaml"]["contracts"][0]
    contract["name"] = "partner5-http"
    contract["actions"] = [
        {
            "name": "notify-erp",
            "on": ["upload"],
            "command": {"argv": [shutil.which("false") or "/bin/false"], "timeout_seconds": 10},
            "retry": {"max_attempts": 1},
        }
    ]
    return config


@pytest.fixture(scope="module")
def live(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One server per catalog (SQLite, PostgreSQL): some inputs only fail on one of them."""
    gw = Gateway(root=tmp_path_factory.mktemp("openapi"), database_url=catalog_url, config=_world()).start()
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def cookies(live: Gateway) -> dict[str, str]:
    r = httpx.post(f"{live.url}/2.0/login/basic", data={"username": "alice", "password": password("alice")})
    assert r.status_code == 200, r.text
    with httpx.Client(base_url=live.url, cookies=r.cookies) as client:
        for name, content in (("report.csv", b"a,b\n1,2\n"), ("inbox/report.csv", b"x" * 300)):
            put = client.put(f"/2.0/files/{name}", files={"file": (name, content)})
            assert put.status_code == 201, put.text
    return dict(r.cookies)


def test_openapi_served_document_is_the_assembled_one(live: Gateway) -> None:
    r = httpx.get(f"{live.url}/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    served = r.json()
    assert served.pop("servers") == [{"url": "/"}]
    assert served["paths"] == DOCUMENT["paths"]
    assert served["components"] == DOCUMENT["components"]


def test_openapi_docs_page_loads_only_from_the_gateway(live: Gateway) -> None:
    page = httpx.get(f"{live.url}/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    links = re.findall(r'(?:src|href|data-spec)="([^"]*)"', page.text)
    assert set(links) == {
        "/docs/swagger-ui.css",
        "/docs/favicon-32x32.png",
        "/docs/swagger-ui-bundle.js",
        "/docs/init.js",
        "/openapi.json",
    }
    assert "<script>" not in page.text  # no inline script: the CSP forbids it
    for link in links:
        r = httpx.get(f"{live.url}{link}")
        assert r.status_code == 200, link
    bundle = httpx.get(f"{live.url}/docs/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert len(bundle.content) > 500_000 and b"SwaggerUIBundle" in bundle.content
    assert "data-spec" in httpx.get(f"{live.url}/docs/init.js").text
    missing = httpx.get(f"{live.url}/docs/index.html")
    assert missing.status_code == 404 and missing.json()["result"] == "failed"


# Operations the run calls without a credential of theirs (they take one in the body, or none).
UNCREDENTIALED = {
    "/2.0/logout",
    "/2.0/login/basic",
    "/token",
    "/oauth2/token",
    "/oauth2/revoke",
    "/oauth2/introspect",
    "/v1/oauth/token",
}


@pytest.fixture(scope="module")
def bearer(live: Gateway) -> dict[str, str]:
    """The OAuth client's token, for the machine façades (/rest/as/job, /v1)."""
    r = httpx.post(
        f"{live.url}/oauth2/token",
        auth=(CLIENT, CLIENT_SECRET),
        data={"grant_type": "client_credentials", "scope": f"{JOBS_SCOPE} runs:read runs:write"},
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def agent_key(live: Gateway, cookies: dict[str, str]) -> dict[str, str]:
    """i13a: an agent's X-API-Key (alice registers it), for seed 001's agent operations."""
    r = httpx.post(f"{live.url}/api/agents/register", json={"name": "openapi-agent"}, cookies=cookies)
    assert r.status_code == 201, r.text
    return {"X-API-Key": r.json()["data"]["apiKey"]}


AGENT_OPERATIONS = {("/api/agents/heartbeat", "post"), ("/api/transfers", "post"), ("/api/transfers/{id}", "patch")}


@pytest.fixture(scope="module")
def api(live: Gateway) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json")


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_openapi_schemathesis_live_server(
    api: schemathesis.BaseSchema,
    live: Gateway,
    cookies: dict[str, str],
    bearer: dict[str, str],
    agent_key: dict[str, str],
    path: str,
    method: str,
) -> None:
    """Generated requests, logged in: no 5xx and every answer as documented."""
    operation = api[path][method]
    # Logging out would end the session the other operations use: logout runs without one (401).
    session = {} if path == "/2.0/logout" else cookies
    headers = bearer if path.startswith(("/rest/as/job/", "/v1/")) and path != "/v1/oauth/token" else {}
    headers = agent_key if (path, method) in AGENT_OPERATIONS else headers
    strategies = [
        operation.as_strategy(generation_mode=mode, cookies=session, headers=headers)
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    ]
    strategies += operation.get_strategies_from_examples(cookies=session, headers=headers)

    @settings(
        max_examples=EXAMPLES_PER_MODE * 2,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def run(case: schemathesis.Case[Any]) -> None:
        statuses.append(case.call_and_validate(base_url=live.url, checks=CHECKS, timeout=30).status_code)

    statuses: list[int] = []
    run()
    # The run must reach the handlers: neither throttled nor, where it holds a credential, refused.
    assert set(statuses) - {429}, statuses
    if path not in UNCREDENTIALED:
        assert set(statuses) - {401, 403, 429}, statuses
    if path in ("/v1/tasks/{id}/start", "/rest/as/job/start-library"):
        assert 200 in statuses, statuses  # the document's example task really starts


# What schemathesis and probing beside it found, kept as plain regression tests: each was a 500
# (NUL only on PostgreSQL; SQLite stored it). Now each is refused as bad input, on both catalogs
# alike, and changes nothing.
BAD_METADATA = ['{"k": "a\\u0000b"}', '{"k": "\\ud800"}', '{"\\udc00": "x"}']


@pytest.mark.parametrize("document", BAD_METADATA, ids=["nul-value", "surrogate-value", "surrogate-key"])
def test_openapi_found_metadata_with_nul_or_lone_surrogate_is_refused(
    live: Gateway, cookies: dict[str, str], document: str
) -> None:
    with httpx.Client(base_url=live.url, cookies=cookies) as client:
        assert client.put("/2.0/files/target.txt", files={"file": ("target.txt", b"x")}).status_code == 201
        before = client.get("/2.0/metadata/target.txt").json()["metadata"]
        r = client.post("/2.0/metadata/target.txt", content=document, headers={"content-type": "application/json"})
        assert (r.status_code, r.json()["errorType"]) == (400, "request_syntax")
        assert client.get("/2.0/metadata/target.txt").json()["metadata"] == before
        r = client.put("/2.0/files/bad-meta.txt", files={"file": ("bad-meta.txt", b"x"), "metadata": (None, document)})
        assert (r.status_code, r.json()["errorType"]) == (400, "request_syntax")
        assert client.get("/2.0/files/bad-meta.txt").status_code == 404


def test_openapi_found_admin_bad_filter_params_and_run_ids_are_refused(live: Gateway, cookies: dict[str, str]) -> None:
    with httpx.Client(base_url=live.url, cookies=cookies) as client:
        r = client.get("/admin/runs", params={"contract": "a\x00"})
        assert r.status_code == 400 and "'contract'" in r.json()["message"]
        total = client.get("/admin/runs").json()["total"]
        r = client.post(
            "/admin/contracts/partner5-http/actions/notify-erp/run",
            content='{"params": {"x": "\\ud800"}}',
            headers={"content-type": "application/json"},
        )
        assert (r.status_code, r.json()["errorType"]) == (400, "request_syntax")
        assert client.get("/admin/runs").json()["total"] == total
        for method, suffix in (("GET", ""), ("POST", "/abort"), ("POST", "/retry")):
            r = client.request(method, f"/admin/runs/%C2%B9{suffix}")  # "¹": a digit to str.isdigit()
            assert (r.status_code, r.json()["message"]) == (400, "Invalid parameter 'id': expected a run id")


def test_openapi_found_nul_and_lone_surrogates_on_the_merged_endpoints_are_refused(
    live: Gateway, cookies: dict[str, str], bearer: dict[str, str]
) -> None:
    """Each was a 500, seen on PostgreSQL (NUL in a text column, or a lone surrogate in a task
    parameter); now each is this API's own 4xx on both catalogs, and no key or run is made."""
    with httpx.Client(base_url=live.url, cookies=cookies) as admin:
        runs, keys = admin.get("/admin/runs").json()["total"], admin.get("/admin/api-keys").json()["total"]
        r = admin.get("/admin/api-keys", params={"owner": "a\x00b"})
        assert (r.status_code, r.json()["errorType"]) == (400, "request_syntax") and "'owner'" in r.json()["message"]
        r = admin.get("/admin/api-keys/%00")
        assert (r.status_code, r.json()["errorType"]) == (404, "io")
        r = admin.get("/admin/audit", params={"event": "a\x00"})
        assert (r.status_code, r.json()["errorType"]) == (400, "request_syntax") and "'event'" in r.json()["message"]
        r = admin.delete("/admin/bans/address/a%00b")
        assert (r.status_code, r.json()["errorType"]) == (400, "request_syntax") and "'value'" in r.json()["message"]
    with httpx.Client(base_url=live.url, headers=bearer) as machine:
        r = machine.post("/rest/as/job/start-library", params={"path": "nightly\x00report"})
        assert (r.status_code, r.json()["StatusCode"]) == (404, "Missing")
        r = machine.post("/v1/tasks/%00/start")
        assert (r.status_code, r.json()["code"]) == (404, "not_found")
        surrogate, as_json = '{"who": "\\ud800"}', {"content-type": "application/json"}
        r = machine.post(
            "/rest/as/job/start-library", params={"path": "nightly-report"}, content=surrogate, headers=as_json
        )
        assert (r.status_code, r.json()["StatusCode"]) == (400, "NotSet") and "'who'" in r.json()["Message"]
        r = machine.post("/v1/tasks/nightly-report/start", content=surrogate, headers=as_json)
        assert (r.status_code, r.json()["code"]) == (400, "bad_request") and "'who'" in r.json()["message"]
    with httpx.Client(base_url=live.url, cookies=cookies) as admin:
        assert admin.get("/admin/runs").json()["total"] == runs
        assert admin.get("/admin/api-keys").json()["total"] == keys
