"""Seed 004's Automation Services job API under ``/rest/as/job/`` over the core's tasks.

A "job" is a task run; its ``JobId`` is the run id. ``start-library`` starts a task by name
(``path`` or ``id``: both name the task; there are no GUIDs here), with an optional JSON object
body of parameter overrides; ``start-content`` records the definition in the body (YAML or JSON;
XML, the seed's own format, answers 415) as a task version and starts it. Every answer is an
``ExecutionStatus`` (``JobId``, ``Message``, ``StatusCode``), except status/abort of an unknown job:
404 with no content, as the seed documents. All endpoints need the OAuth scope
``api.rest.automation-services-job.execute``.

The core's statuses and errors map to this API's words in :data:`STATUS` and :func:`_errors`,
and nowhere else (docs/automation.md shows both tables).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable

import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.catalog.records import RunRecord
from gateway.core import tasks
from gateway.errors import (
    AuthenticationError,
    AuthorizationError,
    BusyError,
    GatewayError,
    LimitExceededError,
    NotFoundError,
    RateLimitedError,
    RequestSyntaxError,
)
from gateway.http import task_params
from gateway.http.auth import read_small_body
from gateway.http.credentials import require
from gateway.http.envelope import json_response

SCOPE = "api.rest.automation-services-job.execute"
MAX_DEFINITION = 1024 * 1024
# The core's run status -> ExecutionStatus.StatusCode (NotSet, Missing and Busy come from errors).
STATUS = {"Queued": "Queued", "InProgress": "InProgress", "Finished": "Finished", "Failed": "Failed",
          "Canceled": "Canceled"}  # fmt: skip
_YAML = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
_XML = ("application/xml", "text/xml")


def execution_status(
    job: str, code: str, message: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return json_response({"JobId": job, "Message": message, "StatusCode": code}, status, headers)


def _of_run(run: RunRecord, message: str = "") -> Response:
    code = STATUS.get(run.status, "NotSet")
    if run.status == "InProgress" and run.abort_requested:
        message = message or "Abort requested; the job is stopping"
    elif not message and run.status == "Finished":
        message = "; ".join(line for line in run.output.splitlines() if line)[:2000]
    elif not message:
        message = run.last_error if run.status in ("Failed", "Canceled") else f"{run.action} v{run.task_version}"
    return execution_status(str(run.id), code, message)


Handler = Callable[[Request], Awaitable[Response]]


def _errors(handler: Handler) -> Handler:
    """The core's exceptions as this API answers them (see docs/automation.md)."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        job = request.path_params.get("jobId", "")
        try:
            return await handler(request)
        except AuthenticationError as exc:
            return execution_status(job, "NotSet", exc.message, 401, {"WWW-Authenticate": "Bearer"})
        except AuthorizationError as exc:
            return execution_status(job, "NotSet", exc.message, 403)
        except NotFoundError as exc:
            if job:
                return Response(status_code=404)  # the seed: "Job not Found", no content
            return execution_status("", "Missing", exc.message, 404)
        except BusyError as exc:
            return execution_status("", "Busy", exc.message, 200)
        except RateLimitedError as exc:
            retry = getattr(exc, "retry_after", None)
            headers = {"Retry-After": str(int(retry))} if retry is not None else None
            return execution_status(job, "NotSet", exc.message, 429, headers)
        except LimitExceededError as exc:
            return execution_status(job, "NotSet", exc.message, 413)
        except RequestSyntaxError as exc:
            return execution_status(job, "NotSet", exc.message, 400)
        except GatewayError as exc:
            return execution_status(job, "NotSet", exc.message, 500 if exc.error_type == "server" else 400)

    return wrapped


@_errors
async def start_library(request: Request) -> Response:
    rt, principal = await require(request, SCOPE)
    name = request.query_params.get("path") or request.query_params.get("id")
    if not name:
        raise RequestSyntaxError("Give the task as ?path=<name> or ?id=<name>")
    params = await task_params.overrides(request)
    started = await tasks.start(rt, name.strip("/"), params, "api", principal.user,
                                principal.actor, principal.client_address)  # fmt: skip
    return execution_status(str(started.run_id), "Queued", f"{started.task} v{started.version} queued")


def _yaml(text: str) -> object:
    """YAML without anchors and aliases: a small body with nested aliases expands into gigabytes
    once the definition is stored as JSON (the "billion laughs")."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise RequestSyntaxError("YAML aliases (*name) are not accepted in a task definition")
    return yaml.safe_load(text)


@_errors
async def start_content(request: Request) -> Response:
    rt, principal = await require(request, SCOPE)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in _XML:
        return execution_status("", "NotSet", "XML job definitions are not supported here: send the task "
                                "definition as application/yaml or application/json", 415)  # fmt: skip
    if media not in (*_YAML, "application/json"):
        return execution_status("", "NotSet", "Send the task definition as application/yaml or application/json", 415)
    raw = await read_small_body(request, MAX_DEFINITION)
    try:
        text = raw.decode("utf-8")
        document = json.loads(text) if media == "application/json" else _yaml(text)
    except (ValueError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise RequestSyntaxError(f"The definition cannot be parsed: {type(exc).__name__}") from None
    if isinstance(document, dict) and "name" not in document and request.query_params.get("path"):
        document = {**document, "name": request.query_params["path"].strip("/")}
    task, version = await tasks.create(rt, document, text)
    started = await tasks.start(
        rt, task.name, {}, "api", principal.user, principal.actor, principal.client_address, version
    )
    return execution_status(str(started.run_id), "Queued", f"{task.name} v{version} queued")


@_errors
async def status(request: Request) -> Response:
    rt, _ = await require(request, SCOPE)
    return _of_run(await tasks.get_run(rt, task_params.run_id(request.path_params["jobId"])))


@_errors
async def abort(request: Request) -> Response:
    rt, principal = await require(request, SCOPE)
    reason = request.query_params.get("reason", "")[:1000]
    why = f"Aborted by {principal.user}" + (f": {reason}" if reason else "")
    return _of_run(await tasks.abort(rt, task_params.run_id(request.path_params["jobId"]), why))


ROUTES: list[BaseRoute] = [
    Route("/rest/as/job/start-library", start_library, methods=["POST"], name="jobs:start-library"),
    Route("/rest/as/job/start-content", start_content, methods=["POST"], name="jobs:start-content"),
    Route("/rest/as/job/status/{jobId}", status, methods=["GET"], name="jobs:status"),
    Route("/rest/as/job/abort/{jobId}", abort, methods=["POST"], name="jobs:abort"),
]
