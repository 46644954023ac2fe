"""The body-progress deadline's clock (http/deadline.py), driven as an ASGI app: a stalled wait
ends the request, steady pieces and the app's own time never do, and a cancellation that is not
the deadline's stays a cancellation."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from gateway.http.deadline import BodyDeadlineMiddleware
from gateway.http.exception_handlers import RequestTimeoutError

pytestmark = pytest.mark.anyio
LIMIT = 0.2


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _scope() -> dict[str, Any]:
    server = SimpleNamespace(body_idle_seconds=LIMIT)
    app = SimpleNamespace(
        state=SimpleNamespace(holder=SimpleNamespace(runtime=SimpleNamespace(config=SimpleNamespace(server=server))))
    )
    return {"type": "http", "headers": [(b"content-length", b"6")], "app": app}


def _client(gaps: list[float], then: float = 0.0) -> Any:
    """A receive that hands over one byte after each gap, then (the body done) waits ``then``."""
    pieces = list(gaps)

    async def receive() -> dict[str, Any]:
        if not pieces:
            await asyncio.sleep(then)
            return {"type": "http.disconnect"}
        await asyncio.sleep(pieces.pop(0))
        return {"type": "http.request", "body": b"x", "more_body": bool(pieces)}

    return receive


async def _run(receive: Any, app_pause: float = 0.0, after_body: bool = False) -> list[Any]:
    got: list[Any] = []

    async def app(scope: Any, rcv: Any, send: Any) -> None:
        while True:
            message = await rcv()
            got.append(message.get("body", message["type"]))
            await asyncio.sleep(app_pause)
            if not message.get("more_body"):
                break
        if after_body:
            got.append((await rcv())["type"])

    async def send(message: Any) -> None:
        pass

    await BodyDeadlineMiddleware(app)(_scope(), receive, send)
    return got


async def test_a_stalled_wait_ends_the_request() -> None:
    with pytest.raises(RequestTimeoutError):
        await _run(_client([0.05, LIMIT * 2.5, 0.01]))


async def test_steady_pieces_outlast_the_limit_in_all() -> None:
    got = await _run(_client([LIMIT * 0.6] * 6))  # 3.6 limits in all, none stalled
    assert got == [b"x"] * 6


async def test_time_the_app_spends_is_not_counted() -> None:
    assert await _run(_client([0.01] * 3), app_pause=LIMIT * 1.5) == [b"x"] * 3


async def test_after_the_body_a_disconnect_is_waited_for_however_long() -> None:
    got = await _run(_client([0.01, 0.01], then=LIMIT * 2), after_body=True)
    assert got == [b"x", b"x", "http.disconnect"]


async def test_a_cancellation_that_is_not_the_deadline_stays_one() -> None:
    task = asyncio.ensure_future(_run(_client([LIMIT * 0.5, LIMIT * 10])))
    await asyncio.sleep(LIMIT * 0.8)  # the first piece is in, the second wait has begun
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def _live_timers() -> int:
    scheduled: list[asyncio.TimerHandle] = asyncio.get_running_loop()._scheduled  # type: ignore[attr-defined]
    return sum(1 for h in scheduled if not h.cancelled())


async def test_no_timer_outlives_the_request() -> None:
    before = _live_timers()
    await _run(_client([0.01] * 3))
    assert _live_timers() == before
