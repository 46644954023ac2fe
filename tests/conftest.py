from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    # aiofiles, uvicorn and our thread offloading are asyncio-only.
    return "asyncio"
