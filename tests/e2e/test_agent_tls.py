"""The agent against an https gateway whose certificate comes from a private CA: ``--ca-file``
makes it trusted; without it the agent says so and exits 2 instead of retrying for ever."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.e2e.agent_world import ENROL_A, AgentProcess, agent_config, wait_for
from tests.e2e.harness import Gateway, running


@pytest.fixture(scope="module")
def ca_and_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Gateway]]:
    root = tmp_path_factory.mktemp("gw-tls")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key, ca_file = root / "cert.pem", root / "key.pem", root / "ca.pem"
    for i, blob in enumerate(leaf.cert_chain_pems):
        blob.write_to_path(str(cert), append=i > 0)
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    with running(Gateway(root=root, config=agent_config(), tls=(cert, key))) as gw:
        yield ca_file, gw


def test_ca_file_makes_a_private_certificate_trusted(ca_and_gateway: tuple[Path, Gateway], tmp_path: Path) -> None:
    ca_file, gateway = ca_and_gateway
    assert gateway.url.startswith("https://")
    agent = AgentProcess(gateway, tmp_path / "tls-agent", enroll=ENROL_A, ca_file=ca_file).start()
    try:
        agent.agent_id()
        wait_for("a heartbeat over https", lambda: "online at https://" in agent.log(), 30)
    finally:
        agent.stop()
    assert agent.process is not None and agent.process.returncode == 0


def test_an_untrusted_certificate_is_a_clear_exit_2(ca_and_gateway: tuple[Path, Gateway], tmp_path: Path) -> None:
    _, gateway = ca_and_gateway
    agent = AgentProcess(gateway, tmp_path / "no-ca", enroll=ENROL_A).start()
    assert agent.wait(30) == 2
    assert "certificate is not trusted (pass --ca-file" in agent.log()
