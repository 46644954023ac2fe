"""The app's runtime, started by the lifespan or, when the app is mounted inside another ASGI
app whose lifespan does not reach it, lazily by the first request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection

from gateway.core.runtime import Runtime


class RuntimeHolder:
    def __init__(self, start: Callable[[], Awaitable[Runtime]]) -> None:
        self._start = start
        self._lock = asyncio.Lock()
        self.runtime: Runtime | None = None

    async def get(self) -> Runtime:
        if self.runtime is None:
            async with self._lock:
                if self.runtime is None:
                    self.runtime = await self._start()
        return self.runtime


async def runtime(request: HTTPConnection) -> Runtime:
    holder: RuntimeHolder = request.app.state.holder
    if holder.runtime is not None:
        return holder.runtime
    return await holder.get()
