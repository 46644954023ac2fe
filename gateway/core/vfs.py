"""The folder tree of each VFS (declared virtual paths) and where each folder's bytes live."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.config.schema import GatewayConfig, Vfs
from gateway.core.paths import VirtualPath
from gateway.errors import ConfigurationError
from gateway.storage.base import StorageBackend


class FolderTree:
    """Answers "does this folder exist", "what is under it", and "which storage holds it"."""

    def __init__(self, vfs: Vfs) -> None:
        self.vfs = vfs
        self._storage: dict[VirtualPath, str] = {VirtualPath(): vfs.storage}
        self._children: dict[VirtualPath, list[str]] = {VirtualPath(): []}
        for folder in sorted(vfs.folders, key=lambda f: f.path.segments):
            for path in reversed(folder.path.ancestors()[:-1]):
                if path not in self._children:
                    self._children[path] = []
                    self._children[path.parent].append(path.name)
            if folder.storage is not None:
                self._storage[folder.path] = folder.storage
        for names in self._children.values():
            names.sort()

    def exists(self, path: VirtualPath) -> bool:
        return path in self._children

    def children(self, path: VirtualPath) -> list[str]:
        return self._children.get(path, [])

    def storage_for(self, path: VirtualPath) -> str:
        for ancestor in path.ancestors():
            if ancestor in self._storage:
                return self._storage[ancestor]
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
