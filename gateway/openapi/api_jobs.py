"""OpenAPI fragment: seed 001's jobs and pipelines under ``/api`` (gateway/http/mftplus/jobs.py
and pipelines.py); docs/mftplus-jobs-pipelines.md says what the document leaves open."""

from __future__ import annotations

from typing import Any

from gateway.openapi.api_common import COMMON_ERRORS, PAGE_PARAMS, api_error, ok_data, ok_page
from gateway.openapi.common import API_KEY, BEARER, SESSION, json_content, ref

_USER = BEARER + SESSION + API_KEY
_AGENT = API_KEY
_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}]
_RUN_ID = [{"name": "run", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}]
_BAD = api_error(400, "Invalid input; `details.errors` lists every problem")
_FORBIDDEN = api_error(403, "Admins only (or, for a claim, only the job's agent)")
_MISSING = api_error(404, "No such resource, or another partner's (never a 403: nothing leaks)")
_CONFLICT = api_error(409, "Exists already, disabled, no run due, or a live lease of another holder")
_TIME = {"type": ["string", "null"], "format": "date-time"}
_SCHEMAS_JOB_FIELDS: dict[str, Any] = {
    "agentId": {"type": ["string", "null"], "maxLength": 36},
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "sourcePath": {"type": "string", "minLength": 1, "maxLength": 1024},
    "destinationPath": {"type": "string", "minLength": 1, "maxLength": 1024},
    "schedule": {"type": "string", "description": "5-field cron", "examples": ["0 2 * * *"]},
    "timezone": {"type": "string", "description": "IANA zone (default UTC)"},
    "protocol": {"enum": ["sftp", "ftp", "ftps", "http", "https", "s3", "gateway", "local"]},
    "direction": {"enum": ["pull", "push"]},
    "enabled": {"type": "boolean"},
}
_PIPELINE_META: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": {"type": "string", "maxLength": 4000},
    "enabled": {"type": "boolean"},
}

SCHEMAS: dict[str, Any] = {
    "ApiJobInput": {"type": "object", "additionalProperties": False, "properties": _SCHEMAS_JOB_FIELDS},
    "ApiJob": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            **_SCHEMAS_JOB_FIELDS,
            "createdAt": _TIME,
            "updatedAt": _TIME,
            "nextRunAt": _TIME,
        },
    },  # fmt: skip
    "ApiJobRun": {
        "type": "object",
        "description": "An agent's run (status running|completed|failed) or a gateway task run "
        "(pending|running|completed|failed|canceled)",
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string"},
            "scheduledFor": _TIME,
            "leaseExpiresAt": _TIME,
            "attempts": {"type": "integer"},
        },
    },  # fmt: skip
    "ApiPipeline": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "identifier": {"type": "string"},
            **_PIPELINE_META,
            "version": {"type": "integer"},
            "createdAt": _TIME,
            "updatedAt": _TIME,
        },
    },  # fmt: skip
    "ApiPipelineVersion": {
        "type": "object",
        "properties": {
            "version": {"type": "integer"},
            "sha256": {"type": "string"},
            "taskVersion": {"type": "integer"},
            "size": {"type": "integer"},
            "createdAt": _TIME,
        },
    },  # fmt: skip
}


def _op(op_id: str, summary: str, answers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    security = extra.pop("security", _USER)
    return {"tags": ["api"], "summary": summary, "operationId": op_id, "security": security,
            "responses": {**answers, **COMMON_ERRORS}, **extra}  # fmt: skip


def _json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"requestBody": {"required": required, "content": json_content(schema)}}


_YAML_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["yaml"],
                    "additionalProperties": False,
                    "properties": {"yaml": {"type": "string"}},
                }
            },
        },  # fmt: skip
    }
}
_JOB, _RUN, _PIPE = ref("ApiJob"), ref("ApiJobRun"), ref("ApiPipeline")
_DELETED = {"type": "object", "properties": {"id": {"type": "string"}, "deleted": {"const": True}}}
_JOB_FILTERS = [{"name": "agentId", "in": "query", "schema": {"type": "string"}},
                {"name": "enabled", "in": "query", "schema": {"type": "boolean"}}]  # fmt: skip
_PIPE_FILTERS = [{"name": "enabled", "in": "query", "schema": {"type": "boolean"}},
                 {"name": "search", "in": "query", "schema": {"type": "string", "maxLength": 200}}]  # fmt: skip
_CREATE_PIPE = {
    "type": "object", "additionalProperties": False, "required": ["identifier", "name", "yaml"],
    "properties": {"identifier": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,200}$"}, **_PIPELINE_META,
                   "yaml": {"type": "string"}},
}  # fmt: skip

PATHS: dict[str, Any] = {
    "/api/jobs": {
        "post": _op("apiCreateJob", "Create a scheduled transfer job (admin)",
                    {**ok_data(201, "The job", _JOB), **_BAD, **_FORBIDDEN}, **_json_body(ref("ApiJobInput"))),
        "get": _op("apiListJobs", "Jobs the caller may see (an agent: its own; agentId=me)",
                   {**ok_page("A page of jobs", _JOB), **_BAD}, parameters=PAGE_PARAMS + _JOB_FILTERS),
    },
    "/api/jobs/{id}": {
        "get": _op("apiGetJob", "A job", {**ok_data(200, "The job", _JOB), **_MISSING}, parameters=_ID),
        "patch": _op("apiUpdateJob", "Change a job (admin)",
                     {**ok_data(200, "The job", _JOB), **_BAD, **_FORBIDDEN, **_MISSING},
                     parameters=_ID, **_json_body(ref("ApiJobInput"))),
        "delete": _op("apiDeleteJob", "Delete a job (admin)",
                      {**ok_data(200, "Deleted", _DELETED), **_FORBIDDEN, **_MISSING}, parameters=_ID),
    },
    "/api/jobs/{id}/runs": {
        "get": _op("apiJobRuns", "A job's run history (admin)",
                   {**ok_page("A page of runs", _RUN), **_BAD, **_FORBIDDEN, **_MISSING},
                   parameters=_ID + PAGE_PARAMS),
        "post": _op("apiClaimJobRun", "The job's agent starts (or resumes, naming runId) the due run, with a lease",
                    {**ok_data(201, "A new run", _RUN), **ok_data(200, "The unfinished run, handed back", _RUN),
                     **_BAD, **_FORBIDDEN, **_MISSING, **_CONFLICT},
                    parameters=_ID, security=_AGENT,
                    **_json_body({"type": "object", "additionalProperties": False,
                                  "properties": {"runId": {"type": "string"}}}, required=False)),
    },
    "/api/jobs/{id}/runs/{run}": {
        "patch": _op("apiUpdateJobRun", "The agent reports progress (renews the lease) or the end of its run",
                     {**ok_data(200, "The run", _RUN), **_BAD, **_MISSING, **_CONFLICT},
                     parameters=_ID + _RUN_ID, security=_AGENT,
                     **_json_body({"type": "object", "additionalProperties": False, "properties": {
                         "status": {"enum": ["running", "completed", "failed"]}, "error": {"type": "string"},
                         "bytesTransferred": {"type": "integer", "minimum": 0},
                         "filesTransferred": {"type": "integer", "minimum": 0}}})),
    },
    "/api/pipelines": {
        "post": _op("apiCreatePipeline", "Create a pipeline (a task definition) from YAML",
                    {**ok_data(201, "The pipeline", _PIPE), **_BAD, **_CONFLICT}, **_json_body(_CREATE_PIPE)),
        "get": _op("apiListPipelines", "Pipelines the caller may see",
                   {**ok_page("A page of pipelines", _PIPE), **_BAD}, parameters=PAGE_PARAMS + _PIPE_FILTERS),
    },
    "/api/pipelines/schema": {
        "get": _op("apiPipelineSchema", "The JSON Schema (2020-12) of a pipeline's YAML document",
                   ok_data(200, "The schema", {"type": "object"})),
    },
    "/api/pipelines/dry-run": {
        "post": _op("apiPipelineDryRun", "Check a pipeline's YAML without saving it",
                    {**ok_data(200, "Valid", {"type": "object"}),
                     **api_error(400, "Invalid: `details.errors` has each problem with its line and column")},
                    **_YAML_BODY),
    },
    "/api/pipelines/{id}": {
        "get": _op("apiGetPipeline", "A pipeline, with its current YAML",
                   {**ok_data(200, "The pipeline", _PIPE), **_MISSING}, parameters=_ID),
        "patch": _op("apiUpdatePipeline", "Change a pipeline's metadata (not its YAML)",
                     {**ok_data(200, "The pipeline", _PIPE), **_BAD, **_MISSING}, parameters=_ID,
                     **_json_body({"type": "object", "additionalProperties": False, "properties": _PIPELINE_META})),
        "delete": _op("apiDeletePipeline", "Delete a pipeline",
                      {**ok_data(200, "Deleted", _DELETED), **_MISSING}, parameters=_ID),
    },
    "/api/pipelines/{id}/yaml": {
        "get": _op("apiExportPipeline", "The current version's YAML, byte for byte",
                   {"200": {"description": "The YAML", "content": {"application/yaml": {"schema": {"type": "string"}}}},
                    **_MISSING}, parameters=_ID),
        "put": _op("apiReplacePipelineYaml", "A new immutable version from YAML",
                   {**ok_data(200, "The pipeline", _PIPE), **_BAD, **_MISSING, **_CONFLICT},
                   parameters=_ID, **_YAML_BODY),
    },
    "/api/pipelines/{id}/runs": {
        "get": _op("apiPipelineRuns", "A pipeline's runs (admin)",
                   {**ok_page("A page of runs", _RUN), **_BAD, **_FORBIDDEN, **_MISSING},
                   parameters=_ID + PAGE_PARAMS),
        "post": _op("apiStartPipelineRun", "Start a run of the current version (admin)",
                    {**ok_data(201, "The run", _RUN), **_BAD, **_FORBIDDEN, **_MISSING, **_CONFLICT},
                    parameters=_ID,
                    **_json_body({"type": "object", "additionalProperties": False,
                                  "properties": {"params": {"type": "object"}}}, required=False)),
    },
    "/api/pipelines/{id}/versions": {
        "get": _op("apiPipelineVersions", "A pipeline's versions (admin)",
                   {**ok_page("A page of versions", ref("ApiPipelineVersion")), **_BAD, **_FORBIDDEN, **_MISSING},
                   parameters=_ID + PAGE_PARAMS),
    },
}  # fmt: skip
