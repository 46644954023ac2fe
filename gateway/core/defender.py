"""Brute-force defence at every credential check (interface; the implementation is pending).

Every place that checks a credential (password login, API key, ``/token``, ``/oauth2/token``,
bearer tokens) calls :func:`guard` before the check and :func:`failed` or :func:`succeeded` after
it, with the proxy-resolved client address and the account name the client claimed (``None`` when
it claimed none).
"""

from __future__ import annotations

from gateway.core.runtime import Runtime


async def guard(rt: Runtime, address: str, account: str | None) -> None:
    """Raise ``RateLimitedError`` while ``address`` or ``account`` is banned; cheap otherwise."""


async def failed(rt: Runtime, address: str, account: str | None, *, known: bool) -> None:
    """Score a failed check; ``known`` says whether the account exists (unknown ones score higher)."""


async def succeeded(rt: Runtime, address: str, account: str | None) -> None:
    """A successful check (it does not lift a ban)."""
