"""The folder tree of each VFS (declared virtual paths) and where each folder's bytes live."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.config.schema import GatewayConfig, Vfs
from gateway.core.paths import VirtualPath
from gateway.errors import ConfigurationError
from gateway.storage.base import StorageBackend


class FolderTree:
    """Answers "does this folder exist", "what is under it", and "which storage holds it".

    Folders are keyed by their segment tuples: every request asks these questions, and a tuple
    is hashed and compared in C, where a ``VirtualPath`` key runs its dataclass methods.
    """

    def __init__(self, vfs: Vfs) -> None:
        self.vfs = vfs
        self._storage: dict[tuple[str, ...], str] = {(): vfs.storage}
        self._children: dict[tuple[str, ...], list[str]] = {(): []}
        for folder in sorted(vfs.folders, key=lambda f: f.path.segments):
            segments = folder.path.segments
            for depth in range(1, len(segments) + 1):
                if segments[:depth] not in self._children:
                    self._children[segments[:depth]] = []
                    self._children[segments[: depth - 1]].append(segments[depth - 1])
            if folder.storage is not None:
                self._storage[segments] = folder.storage
        for names in self._children.values():
            names.sort()

    def exists(self, path: VirtualPath) -> bool:
        return path.segments in self._children

    def children(self, path: VirtualPath) -> list[str]:
        return self._children.get(path.segments, [])

    def storage_for(self, path: VirtualPath) -> str:
        """The storage of the nearest folder (``path`` itself first) that names one."""
        segments = path.segments
        for depth in range(len(segments), -1, -1):
            storage = self._storage.get(segments[:depth])
            if storage is not None:
                return storage
        return self.vfs.storage


class Mounts:
    """Every VFS's folder tree plus the storage backends they resolve to."""

    def __init__(self, config: GatewayConfig, backends: Mapping[str, StorageBackend]) -> None:
        self.trees = {name: FolderTree(vfs) for name, vfs in config.vfs.items()}
        self.backends = dict(backends)
        for tree in self.trees.values():
            for storage in {tree.storage_for(f.path) for f in tree.vfs.folders} | {tree.vfs.storage}:
                if storage not in self.backends:
                    raise ConfigurationError(f"VFS '{tree.vfs.name}' uses storage '{storage}', which is not built")

    def tree(self, vfs: str) -> FolderTree:
        return self.trees[vfs]

    def backend_for(self, vfs: str, folder: VirtualPath) -> StorageBackend:
        return self.backends[self.trees[vfs].storage_for(folder)]
