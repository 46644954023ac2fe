"""storage/beneath.open_below: no component below the root is followed as a symlink, the first
one included (it is opened by its path, not from the root's descriptor), while the root's own
path may go through symlinks."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from gateway.storage import beneath


def _opened(root: Path, *parts: str, create: bool = False) -> Path:
    fd = beneath.open_below(str(root), parts, create=create)
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    finally:
        os.close(fd)


def test_components_open_where_they_are(tmp_path: Path) -> None:
    (tmp_path / "objects" / "ab").mkdir(parents=True)
    assert _opened(tmp_path) == tmp_path
    assert _opened(tmp_path, "objects") == tmp_path / "objects"
    assert _opened(tmp_path, "objects", "ab") == tmp_path / "objects" / "ab"


@pytest.mark.parametrize("inside", [True, False])
def test_a_symlinked_first_component_is_refused(tmp_path: Path, inside: bool) -> None:
    root, elsewhere = tmp_path / "root", tmp_path / ("root/real" if inside else "outside")
    (elsewhere / "ab").mkdir(parents=True)
    root.mkdir(exist_ok=True)
    (root / "objects").symlink_to(elsewhere, target_is_directory=True)
    for parts in (("objects",), ("objects", "ab")):
        with pytest.raises(OSError) as caught:
            _opened(root, *parts)
        assert caught.value.errno in beneath.REFUSED
        with pytest.raises(OSError) as caught:
            _opened(root, *parts, create=True)
        assert caught.value.errno in beneath.REFUSED


def test_a_file_in_place_of_the_first_component_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tmp").write_bytes(b"not a directory")
    with pytest.raises(OSError) as caught:
        _opened(tmp_path, "tmp")
    assert caught.value.errno == errno.ENOTDIR


def test_the_roots_own_path_may_go_through_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real" / "objects").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    assert _opened(tmp_path / "link", "objects") == tmp_path / "real" / "objects"


def test_missing_components_are_made_only_with_create(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _opened(tmp_path, "tmp")
    assert _opened(tmp_path, "tmp", "deeper", create=True) == tmp_path / "tmp" / "deeper"
    with pytest.raises(FileNotFoundError):
        _opened(tmp_path / "no-root", "tmp", create=True)
