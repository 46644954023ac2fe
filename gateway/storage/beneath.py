"""Directory descriptors inside a storage root, opened without following symlinks.

Anyone able to rename entries inside the root (an operator's script, a neighbour on shared
storage) could swap ``tmp/`` or ``objects/<xx>/`` for a symlink between a check of a path and
its use. So no path below the root is ever used as a path: each component is opened with
``O_NOFOLLOW | O_DIRECTORY`` relative to its parent's descriptor (``openat``), and files are
created, renamed, stat'ed and unlinked relative to those descriptors (``dir_fd``). For the
backend's fixed two-level layout this is what ``openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)``
would do, with calls every Linux and Python offer. A symlink in place of a component fails with
ELOOP or ENOTDIR, which callers turn into "storage not usable".

A directory renamed away *after* it was opened keeps its descriptor: what was written through
it is no longer under the root. Callers therefore check the end result again from the root
(:func:`is_at`) before acknowledging anything.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Symlink (O_NOFOLLOW on the final component), or not a directory.
REFUSED = frozenset({errno.ELOOP, errno.ENOTDIR})


def is_symlink(name: str, dir_fd: int) -> bool:
    """Whether ``name`` in ``dir_fd`` is a symlink (False if it cannot be stat'ed)."""
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def open_root(root: str) -> int:
    """The root itself: the operator's configured path, symlinks in it allowed."""
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def open_below(root: str, parts: Sequence[str], *, create: bool = False, mode: int = 0o750) -> int:
    """A descriptor of ``root/parts[0]/parts[1]...``, never following a symlink below the root.

    With ``create``, a missing component is made (``mkdirat``) and then opened the same way.
    Raises OSError: FileNotFoundError for a missing one, ELOOP/ENOTDIR for a symlink or a file.
    The caller closes the returned descriptor.

    The first component is opened by its path below the root (``O_NOFOLLOW`` still refuses it
    as a symlink, and the root's own path may hold symlinks either way): two system calls
    fewer than opening the root, then the component, then closing the root.
    """
    rest = parts
    fd = -1
    if parts:
        try:
            fd = os.open(_joined(root, parts[0]), DIR_FLAGS)
            rest = parts[1:]
        except FileNotFoundError:
            if not create:
                raise
    if fd < 0:
        fd = open_root(root)  # no component, or the first is to be made: from the root
    try:
        for part in rest:
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(part, mode, dir_fd=fd)
                except FileExistsError:
                    pass
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


@functools.lru_cache(maxsize=64)
def _joined(root: str, name: str) -> str:
    """``root/name`` for the backend's few fixed directories, joined once."""
    return os.path.join(root, name)


@contextmanager
def opened_below(root: str, parts: Sequence[str], *, create: bool = False) -> Iterator[int]:
    fd = open_below(root, parts, create=create)
    try:
        yield fd
    finally:
        os.close(fd)


def is_at(root: str, parts: Sequence[str], name: str, expected: os.stat_result) -> bool:
    """Whether ``root/parts.../name``, resolved afresh without symlinks, is the file ``expected``
    (same device and inode). Any error resolving it means no."""
    try:
        fd = open_below(root, parts)
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        finally:
            os.close(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (expected.st_dev, expected.st_ino)
