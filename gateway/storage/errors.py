"""Translation of OS errors into the gateway's error tree.

Storage never lets an ``OSError`` escape: the OS detail (errno, file name) goes to the
``gateway.storage`` log, and the caller gets a gateway error whose message is safe to show.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.errors import IoError, NotFoundError, QuotaExceededError

logger = logging.getLogger("gateway.storage")

_QUOTA_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


@contextmanager
def map_os_errors(message: str, *, not_found: str | None = "File doesn't exist") -> Iterator[None]:
    """Translate an ``OSError`` raised in the block into a gateway error (:func:`domain_error`).
    Other exceptions pass through unchanged."""
    try:
        yield
    except OSError as exc:
        raise domain_error(exc, message, not_found=not_found) from exc


def domain_error(
    exc: OSError, message: str, *, not_found: str | None = "File doesn't exist"
) -> IoError | NotFoundError | QuotaExceededError:
    """The gateway error for ``exc``, its OS detail logged (for a hot caller that cannot afford
    :func:`map_os_errors`' context manager; it raises the answer ``from exc``).

    ``FileNotFoundError`` becomes ``NotFoundError(not_found)`` (or ``IoError(message)`` when
    ``not_found`` is None, for operations where a missing file means broken storage), ENOSPC and
    EDQUOT become ``QuotaExceededError("Insufficient storage")``, and any other ``OSError`` becomes
    ``IoError(message)``.
    """
    if isinstance(exc, FileNotFoundError):
        if not_found is None:
            logger.error("%s: %s", message, exc)
            return IoError(message)
        logger.info("%s: %s", message, exc)
        return NotFoundError(not_found)
    if exc.errno in _QUOTA_ERRNOS:
        logger.warning("%s: %s", message, exc)
        return QuotaExceededError("Insufficient storage")
    logger.error("%s: %s", message, exc)
    return IoError(message)
