"""``agents:`` in gateway.yaml (seed 001's agents, docs/mftplus.md).

``offline_after_seconds``: an agent without a heartbeat for this long is listed as offline.
``transfer_retention_days``: transfer rows that ended (or last changed) longer ago are removed.
``enrollments``: identifiers an agent may send as ``customerIdentifier`` to register without a
customer's token; each names the ``customer`` (a configured user) the agent will belong to and
how many agents may use it (``uses``, default 1: single use)::

    agents:
      offline_after_seconds: 90
      enrollments:
        - {id: acme-enrol-2026, customer: acme-ops, uses: 3}
"""

from __future__ import annotations

import re
from types import MappingProxyType

from gateway.config._fields import Cursor, Fields, lookup
from gateway.config.schema import AgentsConfig, Enrollment, User

_KEYS = ("offline_after_seconds", "enrollments", "transfer_retention_days")
_ENROLLMENT_KEYS = ("id", "customer", "uses")
# Long enough to be unguessable when generated, printable so that it survives a shell and YAML.
ENROLLMENT_ID = re.compile(r"[A-Za-z0-9._~-]{8,128}")


def parse_agents(cur: Cursor, data: object, users: dict[str, User] | None) -> AgentsConfig:
    """The ``agents:`` section; ``users is None`` when actors.yaml failed (already reported)."""
    f = Fields(cur, data, allowed=_KEYS)
    d = AgentsConfig()
    enrollments: dict[str, Enrollment] = {}
    for cur, item in f.items("enrollments"):
        e = Fields(cur, item, allowed=_ENROLLMENT_KEYS, required=("id", "customer"))
        ident, customer = e.text("id"), e.text("customer")
        if ident is not None and not ENROLLMENT_ID.fullmatch(ident):
            e.at("id").error("an enrollment id is 8-128 characters from A-Z a-z 0-9 . _ ~ -")
            ident = None
        if ident is not None and ident in enrollments:
            e.at("id").error(f"enrollment id {ident!r} is listed twice")
            ident = None
        if customer is not None and lookup(e.at("customer"), customer, users, "user", "users") is None:
            customer = None
        uses = e.whole("uses", 1, 1, 1_000_000)
        if ident is not None and customer is not None:
            enrollments[ident] = Enrollment(id=ident, customer=customer, uses=uses)
    return AgentsConfig(
        offline_after_seconds=f.seconds("offline_after_seconds", d.offline_after_seconds, most=86400 * 7),
        enrollments=MappingProxyType(enrollments),
        transfer_retention_days=f.seconds("transfer_retention_days", d.transfer_retention_days, most=36500),
    )
