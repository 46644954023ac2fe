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
    """Translate an ``OSError`` raised in the block into a gateway error, logging the OS detail.

    ``FileNotFoundError`` becomes ``NotFoundError(not_found)`` (or ``IoError(message)`` when
    ``not_found`` is None, for operations where a missing file means broken storage), ENOSPC and
    EDQUOT become ``QuotaExceededError("Insufficient storage")``, and any other ``OSError`` becomes
    ``IoError(message)``. Other exceptions pass through unchanged.
    """
    try:
        yield
    except FileNotFoundError as exc:
        if not_found is None:
            logger.error("%s: %s", message, exc)
            raise IoError(message) from exc
        logger.info("%s: %s", message, exc)
        raise NotFoundError(not_found) from exc
    except OSError as exc:
        if exc.errno in _QUOTA_ERRNOS:
            logger.warning("%s: %s", message, exc)
            raise QuotaExceededError("Insufficient storage") from exc
        logger.error("%s: %s", message, exc)
        raise IoError(message) from exc
