"""A client of the /v1 API that behaves like seed 000's sample script (our own code).

    python automate_client.py <base_url> <tenant_id> <private_key_file> <kid> [task_id]

It signs an ES256 JWT (header ``kid``; claims ``aud`` = the token endpoint, ``iss`` = ``sub`` =
the tenant id, ``jti``, ``iat``, ``nbf``, ``exp`` = +240 s), trades it for an access token with a
JSON body, reads the licence, and, given a task id, starts the task and polls its run every
5 s until ``success`` or ``failed``, sending ``Authorization: bearer`` in lower case, retrying
a 429 after 5 s and refreshing its token on a 403. Only the base URL points it at a server.
It prints one JSON line per step on stdout; the last is the finished run.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt

POLL_SECONDS = 5.0
MAX_429_RETRIES = 5


def make_assertion(private_key: str, kid: str, tenant_id: str, base_url: str) -> str:
    now = int(time.time())
    claims = {
        "aud": f"{base_url}/v1/oauth/token",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 240,
        "iss": tenant_id,
        "sub": tenant_id,
    }
    return jwt.encode(claims, private_key, algorithm="ES256", headers={"kid": kid})


def access_token(assertion: str, base_url: str) -> str:
    response = httpx.post(
        f"{base_url}/v1/oauth/token",
        headers={"Content-Type": "application/json"},
        json={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def with_429_retry(call: Callable[[], httpx.Response]) -> Any:
    for attempt in range(1, MAX_429_RETRIES + 1):
        response = call()
        if response.status_code == 429 and attempt < MAX_429_RETRIES:
            emit({"retry429": attempt, "retryAfter": response.headers.get("retry-after")})
            time.sleep(POLL_SECONDS)
            continue
        response.raise_for_status()
        return response.json()
    raise RuntimeError("unreachable")


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def main(base_url: str, tenant_id: str, key_file: str, kid: str, task_id: str | None) -> int:
    with open(key_file, encoding="utf-8") as handle:
        private_key = handle.read()
    token = access_token(make_assertion(private_key, kid, tenant_id, base_url), base_url)

    def auth() -> dict[str, str]:
        return {"Authorization": f"bearer {token}"}

    emit({"licenses": with_429_retry(lambda: httpx.get(f"{base_url}/v1/licenses/current", headers=auth()))})
    if not task_id:
        return 0
    started = with_429_retry(lambda: httpx.post(f"{base_url}/v1/tasks/{task_id}/start", headers=auth(), json={}))
    emit({"started": started})
    status, run = "", None
    while status not in ("success", "failed"):
        try:
            run = with_429_retry(lambda: httpx.get(f"{base_url}/v1/task-runs/{started['id']}", headers=auth()))
            status = run.get("status", {}).get("taskRunStatus", "")
            emit({"poll": status})
            time.sleep(POLL_SECONDS)
        except httpx.HTTPStatusError as error:
            if error.response.status_code != 403:
                raise
            emit({"refresh": True})
            token = access_token(make_assertion(private_key, kid, tenant_id, base_url), base_url)
    emit({"finished": run})
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (4, 5):
        print("usage: automate_client.py <base_url> <tenant_id> <private_key_file> <kid> [task_id]", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(args[0], args[1], args[2], args[3], args[4] if len(args) == 5 else None))
