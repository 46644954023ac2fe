"""Connection contracts: which VFS subtree a caller reaches through which protocol."""

from __future__ import annotations

from gateway.config.schema import Contract, GatewayConfig, Permission, Vfs
from gateway.core import acl
from gateway.core.paths import VirtualPath
from gateway.core.principal import Principal
from gateway.errors import AuthorizationError, ContractNotConfiguredError
from gateway.frozen import frozen

# What a contract's direction lets through: input = partner uploads, output = partner downloads.
_BLOCKED = {
    "input": frozenset({Permission.DOWNLOAD}),
    "output": frozenset({Permission.UPLOAD, Permission.CREATE, Permission.RENAME}),
    "both": frozenset(),
}


@frozen
class Access:
    """A caller bound to a VFS through one contract; paths it is given are contract-relative."""

    principal: Principal
    contract: Contract
    vfs: Vfs

    def absolute(self, relative: VirtualPath) -> VirtualPath:
        return self.contract.path.join(relative)

    def ensure(self, permission: Permission, path: VirtualPath) -> None:
        """Check the contract's direction, then the ACL, on a VFS-absolute path."""
        if permission in _BLOCKED[self.contract.direction]:
            raise AuthorizationError(acl.DENIED_MESSAGES[permission])
        acl.ensure(self.vfs, self.principal, permission, path)

    def can_see(self, path: VirtualPath) -> bool:
        return bool(acl.effective(self.vfs, self.principal, path))


def resolve(config: GatewayConfig, principal: Principal) -> Access:
    """The most specific enabled contract for the caller (user, then group, then actor).

    Raises ContractNotConfiguredError when none binds the caller on this protocol.
    """
    best: tuple[int, Contract] | None = None
    for contract in config.contracts:
        if not contract.enabled or contract.protocol != principal.protocol or contract.actor != principal.actor:
            continue
        if contract.user is not None:
            rank = 0 if contract.user == principal.user else None
        elif contract.group is not None:
            rank = 1 if contract.group in principal.groups else None
        else:
            rank = 2
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, contract)
    if best is None:
        raise ContractNotConfiguredError()
    contract = best[1]
    return Access(principal=principal, contract=contract, vfs=config.vfs[contract.vfs])
