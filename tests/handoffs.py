"""Counting a module's hand-offs to worker threads, for tests that pin down what runs on the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def thread_handoffs(module: str) -> Iterator[list[str]]:
    """While open, every ``asyncio.to_thread`` call made by ``module`` (e.g. ``gateway.storage.local``)
    still runs, and the name of the function it hands off is appended to the yielded list."""
    calls: list[str] = []
    original = asyncio.to_thread

    async def counting(func: Any, /, *args: Any) -> Any:
        calls.append(getattr(func, "__name__", repr(func)))
        return await original(func, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(f"{module}.asyncio.to_thread", counting)
        yield calls
