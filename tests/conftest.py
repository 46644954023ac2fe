from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.connectors.peers import FaultSftp, Sshd


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    # aiofiles, uvicorn and our thread offloading are asyncio-only.
    return "asyncio"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """A real OpenSSH sshd on a loopback port (its own host key, config and SFTP folder)."""
    from tests.connectors.peers import Sshd, have_sshd

    if not have_sshd():
        pytest.skip("OpenSSH sshd is not installed (tests/run installs openssh-server when run as root)")
    server = Sshd(tmp_path_factory.mktemp("sshd")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fault_sftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultSftp]:
    """An in-process asyncssh SFTP server whose faults (drops, full disk, delays) tests set."""
    from tests.connectors.peers import FaultSftp

    server = FaultSftp(tmp_path_factory.mktemp("fault-sftp")).start()
    try:
        yield server
    finally:
        server.stop()
