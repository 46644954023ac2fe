"""Who may see what on seed 001's API: admins see everything; a customer (partner) sees what
its partner owns; an agent acts for the partner that enrolled it. Anything else is reported as
missing (404), so ids of other partners leak nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.errors import AuthorizationError, RequestSyntaxError


@dataclass(frozen=True, slots=True)
class Caller:
    admin: bool
    owner: str  # the partner (actor) name; "" for an admin
    agent_id: str | None = None

    def sees(self, owner: str) -> bool:
        return self.admin or (bool(self.owner) and owner == self.owner)

    @property
    def scope(self) -> str | None:
        """The owner a listing is restricted to (None: every owner)."""
        return None if self.admin else self.owner


def plausible_id(value: str) -> bool:
    """Whether ``value`` can be one of our ids (a UUID's characters): anything else is simply
    missing, and never reaches the catalog (PostgreSQL refuses a NUL in a query parameter)."""
    return 0 < len(value) <= 36 and value.isascii() and all(c.isalnum() or c == "-" for c in value)


def ensure_admin(caller: Caller) -> None:
    """Raise ``AuthorizationError`` (403) unless an admin calls."""
    if not caller.admin:
        raise AuthorizationError("Admin access required")


class StateConflictError(RequestSyntaxError):
    """The resource exists already, or its state refuses the request (seed 001: 409);
    ``details`` tells a client what to do next (e.g. when the next run is due)."""

    error_type = "conflict"
    default_message = "Conflict"

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None) -> None:
        self.details = details
        super().__init__(message)


class InvalidInputError(RequestSyntaxError):
    """A request body that is refused, with every problem in ``details`` (seed 001: 400)."""

    def __init__(self, message: str | None = None, problems: list[dict[str, Any]] | None = None) -> None:
        self.details = {"errors": problems or []}
        super().__init__(message)
