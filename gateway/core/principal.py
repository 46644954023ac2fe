"""Who is calling, and what they may do: one authorization model whatever the credential.

A principal is a configured user or service account acting through one credential (a cookie
session, an API key, a bearer token from ``/token`` or ``/oauth2/token``). Its ``roles`` say what
kind of account it is; its ``scopes`` are what this request may do: the account's scopes for a
session, narrowed to the credential's for an API key or a token. Handlers ask
:func:`ensure_scope` (403 when missing); nothing else looks at how the caller authenticated.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import AuthorizationError

# The scopes each role may hold. An operator runs and watches automation but never manages
# credentials; a partner moves files; an admin may do everything.
JOBS_SCOPE = "api.rest.automation-services-job.execute"  # seed 004: start, watch and abort task runs
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset({"files:read", "files:write", "runs:read", "runs:write", "keys:manage", JOBS_SCOPE}),
    "operator": frozenset({"runs:read", "runs:write", JOBS_SCOPE}),
    "partner": frozenset({"files:read", "files:write"}),
}
ROLES: tuple[str, ...] = tuple(ROLE_SCOPES)
SCOPES: tuple[str, ...] = ("files:read", "files:write", "runs:read", "runs:write", "keys:manage", JOBS_SCOPE)


def scopes_of_roles(roles: frozenset[str]) -> frozenset[str]:
    return frozenset().union(*(ROLE_SCOPES.get(role, frozenset()) for role in roles))


@dataclass(frozen=True, slots=True)
class Principal:
    user: str
    actor: str
    groups: frozenset[str]
    protocol: str  # "http" or "https": the client-facing scheme, after trusted-proxy resolution
    client_address: str
    roles: frozenset[str] = frozenset({"partner"})
    scopes: frozenset[str] = ROLE_SCOPES["partner"]
    credential: str = "session"  # "session", "apikey:<id>" or "client:<id>"

    @property
    def rate_key(self) -> str:
        """Who the rate limiter counts: the credential for machines, the account for sessions."""
        return f"user:{self.user}" if self.credential == "session" else self.credential


def ensure_scope(principal: Principal, scope: str) -> None:
    """Raise ``AuthorizationError`` (403) unless this request may use ``scope``."""
    if scope not in principal.scopes:
        raise AuthorizationError(f"Missing scope '{scope}'")
