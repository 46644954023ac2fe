"""Password hashing: argon2id through passlib (the maintained ``libpass`` distribution).

Verification costs tens of milliseconds of CPU by design, so callers run it off the event loop.
An unknown user is verified against a dummy hash so that response time does not reveal which
user names exist.
"""

from __future__ import annotations

import ctypes
import ctypes.util

from passlib.context import CryptContext

# OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): strong against offline guessing while a
# login costs the server 19 MiB, not the 64 MiB of the library default, which would dominate
# the gateway's peak memory.
_context = CryptContext(
    schemes=["argon2"], argon2__type="ID", argon2__memory_cost=19456, argon2__rounds=2, argon2__parallelism=1
)
_DUMMY = _context.hash("not-a-real-password")


_M_MMAP_THRESHOLD = -3


def _pin_mmap_threshold() -> None:
    """Make glibc serve argon2's 19 MiB from mmap, returned to the OS when freed.

    glibc raises its mmap threshold after the first large free, after which such blocks come
    from a thread's arena and stay resident: every login would then keep ~19 MiB for good.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 4 * 1024 * 1024)
    except (OSError, AttributeError):
        pass  # not glibc


_pin_mmap_threshold()


def hash_password(password: str) -> str:
    return str(_context.hash(password))


def verify(password: str, password_hash: str | None) -> bool:
    """True only for a matching password; a malformed hash never raises, it fails closed."""
    try:
        if password_hash is None:
            _context.verify(password, _DUMMY)
            return False
        return bool(_context.verify(password, password_hash))
    except (ValueError, TypeError):
        return False
