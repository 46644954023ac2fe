from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest

from gateway.config.schema import Contract, GatewayConfig, Vfs
from gateway.core import contracts
from gateway.core.principal import Principal
from gateway.errors import ContractNotConfiguredError


def _config(*items: Contract) -> GatewayConfig:
    vfs = {name: Vfs(name=name, actor="A", storage="default") for name in ("actor-wide", "group", "user", "tls")}
    return GatewayConfig(
        source=Path("."),
        actors=MappingProxyType({}),
        groups=MappingProxyType({}),
        users=MappingProxyType({}),
        storages=MappingProxyType({}),
        vfs=MappingProxyType(vfs),
        contracts=items,
    )


CONFIG = _config(
    Contract(name="actor-wide", actor="A", protocol="http", vfs="actor-wide"),
    Contract(name="group", actor="A", protocol="http", vfs="group", group="ops"),
    Contract(name="user", actor="A", protocol="http", vfs="user", user="alice"),
    Contract(name="tls", actor="A", protocol="https", vfs="tls", user="alice"),
    Contract(name="off", actor="B", protocol="http", vfs="user", enabled=False),
)


def _who(user: str, actor: str = "A", protocol: str = "http", *groups: str) -> Principal:
    return Principal(user=user, actor=actor, groups=frozenset(groups), protocol=protocol, client_address="")


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        (_who("alice", "A", "http", "ops"), "user"),  # the user's own contract beats group and actor
        (_who("bob", "A", "http", "ops"), "group"),
        (_who("carl"), "actor-wide"),
        (_who("alice", "A", "https"), "tls"),  # the protocol must match
    ],
)
def test_contracts_resolve_most_specific_wins(principal: Principal, expected: str) -> None:
    assert contracts.resolve(CONFIG, principal).contract.name == expected


@pytest.mark.parametrize(
    "principal",
    [_who("carl", "A", "https"), _who("x", "B"), _who("y", "C")],
    ids=["no-https-contract", "disabled-contract", "no-contract"],
)
def test_contracts_resolve_without_match_raises_not_configured(principal: Principal) -> None:
    with pytest.raises(ContractNotConfiguredError) as info:
        contracts.resolve(CONFIG, principal)
    assert info.value.message == "Connection contract not configured"
