"""Webhook actions: the event as a signed JSON POST.

The body is signed with HMAC-SHA256 under the action's secret (``X-MFT-Signature-256:
sha256=<hex>``), and carries the event id as ``Idempotency-Key``: delivery is at-least-once,
so a receiver drops a repeated key. Any answer but 2xx, a timeout or a connection failure is
retried by the dispatcher.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING

from gateway import __version__
from gateway.config.schema import WebhookAction
from gateway.core.outcome import Outcome, RunContext

if TYPE_CHECKING:
    import httpx

SIGNATURE_HEADER = "X-MFT-Signature-256"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


async def deliver(client: httpx.AsyncClient, action: WebhookAction, ctx: RunContext) -> Outcome:
    body = json.dumps(ctx.payload(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"mft-gateway/{__version__}",
        "Idempotency-Key": str(ctx.event.id),
        "X-MFT-Event-Id": str(ctx.event.id),
        "X-MFT-Event-Type": ctx.event.type,
        "X-MFT-Run-Id": str(ctx.run.id),
        "X-MFT-Attempt": str(ctx.run.attempts),
    }
    headers.update(action.headers)
    if action.secret:
        headers[SIGNATURE_HEADER] = sign(action.secret, body)
    import httpx  # loaded already: the caller's client is one (not imported at start, see Dispatcher)

    try:
        response = await client.post(action.url, content=body, headers=headers, timeout=action.timeout_seconds)
    except httpx.TimeoutException:
        return Outcome(ok=False, error=f"no answer within {action.timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        return Outcome(ok=False, error=f"delivery failed: {type(exc).__name__}: {exc}")
    summary = f"HTTP {response.status_code} {response.reason_phrase}: {response.text[:500]}"
    if 200 <= response.status_code < 300:
        return Outcome(ok=True, output=summary)
    return Outcome(ok=False, output=summary, error=f"receiver answered HTTP {response.status_code}")
