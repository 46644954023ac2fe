"""Principals for machine credentials (API keys, access tokens): who owns them, what they may do.

The owner is a configured user or service account. It must exist and be enabled, and its
actor's agreement must not have ended (``valid_until``: ``AgreementEndedError``, answered 410,
as seed 002 does for an expired tenancy). The principal's scopes are the credential's, narrowed
to what the owner holds now, so removing a scope from an account takes effect at once.
"""

from __future__ import annotations

import time

from gateway.config.schema import User
from gateway.core.principal import Principal
from gateway.core.runtime import Runtime
from gateway.errors import AgreementEndedError, AuthenticationError


def owner(rt: Runtime, name: str) -> User:
    """The enabled account ``name``; raises AuthenticationError or AgreementEndedError."""
    user = rt.config.users.get(name)
    if user is None or not user.enabled:
        raise AuthenticationError("Invalid or expired credentials")
    ensure_agreement(rt, user)
    return user


def ensure_agreement(rt: Runtime, user: User) -> None:
    actor = rt.config.actors.get(user.actor)
    if actor is not None and actor.valid_until is not None and time.time_ns() // 1000 >= actor.valid_until:
        raise AgreementEndedError()


def principal(user: User, scopes: frozenset[str], credential: str, protocol: str, client_address: str) -> Principal:
    return Principal(
        user=user.name,
        actor=user.actor,
        groups=user.groups,
        protocol=protocol,
        client_address=client_address,
        roles=user.roles,
        scopes=scopes & user.scopes,
        credential=credential,
    )
