"""Seed 000's Automate MFT API under ``/v1`` over the core's tasks.

``POST /v1/oauth/token`` is the OAuth server of ``/oauth2/token`` (a JSON body with a
``private_key_jwt`` assertion whose ``aud`` is this URL); ``GET /v1/licenses/current`` the plan
(``tasks.yaml`` ``plan:``) and this period's usage; ``POST /v1/tasks/{id}/start`` starts the task
named ``id`` with the JSON body as parameter overrides; ``GET /v1/task-runs/{id}`` a run, its
``status.taskRunStatus`` and its steps. Errors are ``{"message", "code"}`` with a plain status.

Mapping decisions (docs/automation.md): a bad or expired bearer token answers **403**, as the
seed's script expects (it refreshes its token on 403 and on nothing else), while a request with
no credential at all answers 401. A busy task or the run cap answers 429 with ``Retry-After``,
which the script retries. The status words are :data:`STATUS`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.catalog.records import RunRecord
from gateway.core import tasks
from gateway.core.timefmt import iso_ms, now_us
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
from gateway.http import oauth2, task_params
from gateway.http.credentials import require
from gateway.http.envelope import json_response
from gateway.http.oauth_wire import oauth_errors

# The core's run status -> seed 000's taskRunStatus.
STATUS = {"Queued": "queued", "InProgress": "running", "Finished": "success", "Failed": "failed",
          "Canceled": "canceled"}  # fmt: skip
BUSY_RETRY_SECONDS = 5

Handler = Callable[[Request], Awaitable[Response]]


def _error(message: str, code: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return json_response({"message": message, "code": code}, status, headers)


def _errors(handler: Handler) -> Handler:
    """The core's exceptions as /v1 answers them (see docs/automation.md)."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except AuthenticationError as exc:
            if "authorization" in request.headers or "x-api-key" in request.headers:
                return _error(exc.message, "invalid_token", 403)
            return _error(exc.message, "unauthenticated", 401, {"WWW-Authenticate": "Bearer"})
        except AuthorizationError as exc:
            return _error(exc.message, "forbidden", 403)
        except NotFoundError as exc:
            return _error(exc.message, "not_found", 404)
        except BusyError as exc:
            return _error(exc.message, "busy", 429, {"Retry-After": str(BUSY_RETRY_SECONDS)})
        except RateLimitedError as exc:
            retry = getattr(exc, "retry_after", None) or BUSY_RETRY_SECONDS
            return _error(exc.message, "rate_limited", 429, {"Retry-After": str(int(retry))})
        except LimitExceededError as exc:
            return _error(exc.message, "too_large", 413)
        except RequestSyntaxError as exc:
            return _error(exc.message, "bad_request", 400)
        except GatewayError as exc:
            return _error(exc.message, "error", 500 if exc.error_type == "server" else 400)

    return wrapped


@oauth_errors
async def token(request: Request) -> Response:
    return await oauth2.issue(request, "/v1/oauth/token")


@_errors
async def licenses(request: Request) -> Response:
    rt, principal = await require(request, "runs:read")
    plan = rt.config.tasks.plan
    used = await tasks.usage(rt, now_us())
    return json_response(
        {
            "tenantId": principal.credential.removeprefix("client:"),
            "plan": {"tier": plan.tier, "startDate": plan.start_date or None, "endDate": plan.end_date or None},
            "period": {"start": iso_ms(used.period_start), "end": iso_ms(used.period_end)},
            "usage": used.counters,
            "limits": {"maxActiveRuns": rt.config.tasks.max_active_runs},
        }
    )


@_errors
async def start(request: Request) -> Response:
    rt, principal = await require(request, "runs:write")
    params = await task_params.overrides(request)
    started = await tasks.start(rt, request.path_params["id"], params, "api", principal.user, principal.actor,
                                principal.client_address)  # fmt: skip
    run = await tasks.get_run(rt, started.run_id)
    return json_response(run_json(run))


def run_json(run: RunRecord) -> dict[str, Any]:
    word = STATUS.get(run.status, "failed")
    detail = run.last_error if run.status in ("Failed", "Canceled") else run.output
    return {
        "id": str(run.id),
        "taskId": run.action,
        "taskVersion": run.task_version,
        "trigger": run.trigger,
        "params": run.params,
        "status": {"taskRunStatus": word, "detail": detail, "abortRequested": run.abort_requested},
        "steps": [
            {k: step.get(k) for k in ("name", "kind", "status", "attempts", "bytes", "error", "output")}
            for step in run.steps
        ],
        "createdAt": iso_ms(run.created_at),
        "startedAt": iso_ms(run.started_at) or None,
        "finishedAt": iso_ms(run.finished_at) or None,
    }


@_errors
async def task_run(request: Request) -> Response:
    rt, _ = await require(request, "runs:read")
    return json_response(run_json(await tasks.get_run(rt, task_params.run_id(request.path_params["id"]))))


ROUTES: list[BaseRoute] = [
    Route("/v1/oauth/token", token, methods=["POST"], name="automate:token"),
    Route("/v1/licenses/current", licenses, methods=["GET"], name="automate:licenses"),
    Route("/v1/tasks/{id}/start", start, methods=["POST"], name="automate:start"),
    Route("/v1/task-runs/{id}", task_run, methods=["GET"], name="automate:task-run"),
]
