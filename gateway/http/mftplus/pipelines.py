"""Seed 001's pipelines under ``/api/pipelines``: a pipeline is a task of the automation model
(same parser, versions and runs); its YAML is kept byte for byte per version.

``POST /api/pipelines/dry-run`` and ``PUT …/yaml`` take the YAML either as the raw body
(``application/yaml``, ``text/yaml``, ``text/plain``) or as ``{"yaml": "..."}`` in JSON;
``GET …/yaml`` answers the current version's text exactly as it was sent.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.catalog.pipelines import PipelineRecord, PipelineVersion
from gateway.config.pipeline_schema import task_schema
from gateway.core import pipelines
from gateway.core.owners import InvalidInputError
from gateway.core.timefmt import iso_ms
from gateway.errors import InvalidParameterError
from gateway.http.mftplus.callers import Fields, body_bytes, caller, json_object, query_flag, storable
from gateway.http.mftplus.envelope import api_errors, ok, ok_page, paging
from gateway.http.mftplus.jobs import task_run_json

_CREATE = ("identifier", "name", "description", "yaml", "enabled")
_META = ("name", "description", "enabled")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def pipeline_json(p: PipelineRecord) -> dict[str, Any]:
    return {
        "id": p.id, "identifier": p.identifier, "name": p.name, "description": p.description,
        "enabled": p.enabled, "version": p.version, "createdAt": iso_ms(p.created_at),
        "updatedAt": iso_ms(p.updated_at),
    }  # fmt: skip


def version_json(v: PipelineVersion) -> dict[str, Any]:
    return {"version": v.version, "sha256": v.sha256, "taskVersion": v.task_version, "size": len(v.yaml.encode()),
            "createdAt": iso_ms(v.created_at)}  # fmt: skip


async def _yaml_text(request: Request) -> str:
    """The YAML of a dry-run or an update: the raw body, or ``yaml`` of a JSON object."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
        f = Fields(await json_object(request), ("yaml",))
        text = f.text("yaml", True, pipelines.MAX_YAML)
        f.done("pipeline YAML")
        assert text is not None
        return text
    raw = await body_bytes(request, pipelines.MAX_YAML)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError("Pipeline YAML is not UTF-8", [{"line": 1, "column": 1, "message": str(exc)}]) from None


async def create(request: Request) -> Response:
    rt, who = await caller(request)
    f = Fields(await json_object(request), _CREATE)
    identifier = f.text("identifier", True)
    if identifier is not None and not set(identifier) <= _NAME_CHARS:
        f.bad("identifier", "use letters, digits, '-', '_' or '.'")
    name = f.text("name", True)
    description = f.text("description", False, 4000, empty=True) or ""
    text = f.text("yaml", True, pipelines.MAX_YAML)
    enabled = f.flag("enabled")
    f.done("pipeline")
    assert identifier is not None and name is not None and text is not None
    created = await pipelines.create(rt, who, identifier, name, description, text, True if enabled is None else enabled)
    return ok(pipeline_json(created), 201)


async def list_pipelines(request: Request) -> Response:
    rt, who = await caller(request)
    page, limit = paging(request)
    search = request.query_params.get("search")
    if search is not None and (len(search) > 200 or not storable(search)):
        raise InvalidParameterError("search", "at most 200 characters, no NUL")
    total, found = await pipelines.search(rt, who, query_flag(request, "enabled"), search, page, limit)
    return ok_page([pipeline_json(p) for p in found], total, page, limit)


async def schema(request: Request) -> Response:
    await caller(request)
    return ok(task_schema())


async def dry_run(request: Request) -> Response:
    rt, who = await caller(request)
    checked = pipelines.check(rt, await _yaml_text(request), who)
    if checked.problems:
        raise InvalidInputError(
            f"Invalid pipeline YAML: {len(checked.problems)} problem(s)", [p.as_json() for p in checked.problems]
        )
    return ok({"valid": True, "errors": [], "steps": [s.get("name") for s in _steps(checked.body)]})


def _steps(body: dict[str, object]) -> list[dict[str, Any]]:
    steps = body.get("steps")
    return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []


async def get_pipeline(request: Request) -> Response:
    rt, who = await caller(request)
    found, version = await pipelines.current(rt, who, request.path_params["id"])
    return ok({**pipeline_json(found), "yaml": version.yaml, "sha256": version.sha256})


async def export_yaml(request: Request) -> Response:
    rt, who = await caller(request)
    found, version = await pipelines.current(rt, who, request.path_params["id"])
    headers = {
        "Content-Disposition": f'attachment; filename="{found.identifier}.yaml"',
        "ETag": f'"{version.sha256}"',
        "X-Pipeline-Version": str(version.version),
    }
    return Response(version.yaml.encode("utf-8"), headers=headers, media_type="application/yaml; charset=utf-8")


async def replace_yaml(request: Request) -> Response:
    rt, who = await caller(request)
    version = await pipelines.replace_yaml(rt, who, request.path_params["id"], await _yaml_text(request))
    found = await pipelines.get(rt, who, request.path_params["id"])
    return ok({**pipeline_json(found), "versionInfo": version_json(version)})


async def patch_pipeline(request: Request) -> Response:
    rt, who = await caller(request)
    f = Fields(await json_object(request), _META)
    changes: dict[str, Any] = {}
    name = f.text("name")
    description = f.text("description", False, 4000, empty=True)
    enabled = f.flag("enabled")
    for key, value in (("name", name), ("description", description), ("enabled", enabled)):
        if value is not None:
            changes[key] = value
    f.done("pipeline metadata")
    return ok(pipeline_json(await pipelines.update(rt, who, request.path_params["id"], changes)))


async def delete_pipeline(request: Request) -> Response:
    rt, who = await caller(request)
    await pipelines.delete(rt, who, request.path_params["id"])
    return ok({"id": request.path_params["id"], "deleted": True})


async def list_runs(request: Request) -> Response:
    rt, who = await caller(request)
    page, limit = paging(request)
    total, found = await pipelines.runs(rt, who, request.path_params["id"], page, limit)
    return ok_page([task_run_json(r) for r in found], total, page, limit)


async def start_run(request: Request) -> Response:
    rt, who = await caller(request)
    body = await json_object(request, optional=True)
    f = Fields(body, ("params",))
    params = body.get("params", {})
    if not isinstance(params, dict):
        f.bad("params", "expected an object of parameter overrides")
        params = {}
    f.done("run request")
    run = await pipelines.start(rt, who, request.path_params["id"], params)
    return ok(task_run_json(run), 201)


async def list_versions(request: Request) -> Response:
    rt, who = await caller(request)
    page, limit = paging(request)
    total, found = await pipelines.versions(rt, who, request.path_params["id"], page, limit)
    return ok_page([version_json(v) for v in found], total, page, limit)


ROUTES: list[BaseRoute] = [
    Route("/api/pipelines", api_errors(create), methods=["POST"], name="api:pipelines:create"),
    Route("/api/pipelines", api_errors(list_pipelines), methods=["GET"], name="api:pipelines:list"),
    Route("/api/pipelines/schema", api_errors(schema), methods=["GET"], name="api:pipelines:schema"),
    Route("/api/pipelines/dry-run", api_errors(dry_run), methods=["POST"], name="api:pipelines:dry-run"),
    Route("/api/pipelines/{id}", api_errors(get_pipeline), methods=["GET"], name="api:pipelines:get"),
    Route("/api/pipelines/{id}", api_errors(patch_pipeline), methods=["PATCH"], name="api:pipelines:update"),
    Route("/api/pipelines/{id}", api_errors(delete_pipeline), methods=["DELETE"], name="api:pipelines:delete"),
    Route("/api/pipelines/{id}/yaml", api_errors(export_yaml), methods=["GET"], name="api:pipelines:export"),
    Route("/api/pipelines/{id}/yaml", api_errors(replace_yaml), methods=["PUT"], name="api:pipelines:replace"),
    Route("/api/pipelines/{id}/runs", api_errors(list_runs), methods=["GET"], name="api:pipelines:runs"),
    Route("/api/pipelines/{id}/runs", api_errors(start_run), methods=["POST"], name="api:pipelines:start"),
    Route("/api/pipelines/{id}/versions", api_errors(list_versions), methods=["GET"], name="api:pipelines:versions"),
]
