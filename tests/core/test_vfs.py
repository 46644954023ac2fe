from __future__ import annotations

import pytest

from gateway.config.schema import Folder, Vfs
from gateway.core.paths import VirtualPath, parse_config_path
from gateway.core.vfs import FolderTree


def _p(path: str) -> VirtualPath:
    return parse_config_path(path)


TREE = FolderTree(
    Vfs(
        name="v",
        actor="A",
        storage="default",
        folders=(
            Folder(_p("/out/archive/2026"), storage="cold"),
            Folder(_p("/in")),
            Folder(_p("/out/archive"), storage="archive"),
            Folder(_p("/in/edi"), storage="fast"),
            Folder(_p("/out/daily")),
        ),
    )
)


@pytest.mark.parametrize(
    ("path", "exists"),
    [
        ("/", True),
        ("/in", True),
        ("/in/edi", True),
        ("/out", True),  # implied by its declared descendants
        ("/out/archive/2026", True),
        ("/out/archive/2027", False),
        ("/in/edi/x", False),
        ("/nowhere", False),
    ],
)
def test_a_folder_exists_when_declared_or_implied(path: str, exists: bool) -> None:
    assert TREE.exists(_p(path)) is exists


def test_children_are_sorted_names_and_unknown_folders_have_none() -> None:
    assert TREE.children(_p("/")) == ["in", "out"]
    assert TREE.children(_p("/out")) == ["archive", "daily"]
    assert TREE.children(_p("/out/archive")) == ["2026"]
    assert TREE.children(_p("/in/edi")) == []
    assert TREE.children(_p("/nowhere")) == []


@pytest.mark.parametrize(
    ("path", "storage"),
    [
        ("/", "default"),
        ("/in", "default"),
        ("/in/edi", "fast"),
        ("/in/edi/deeper/still", "fast"),  # inherited by paths below a declared folder
        ("/out/archive", "archive"),
        ("/out/archive/2026", "cold"),  # the nearest declaration wins
        ("/out/archive/2025", "archive"),
        ("/out/daily", "default"),
    ],
)
def test_storage_is_the_nearest_folders_that_names_one(path: str, storage: str) -> None:
    assert TREE.storage_for(_p(path)) == storage
