"""Load and validate the configuration folder (``vfs-config/``) into a :class:`GatewayConfig`.

This is the only module that knows the YAML layout. The folder holds four files:

``gateway.yaml`` (optional)
    ``server:`` settings and ``storages:`` (name -> type, root, durable).
``actors.yaml``
    ``actors:`` name -> kind, description, groups, users (name -> password_hash, enabled, groups,
    admin).
``vfs.yaml``
    ``vfs:`` name -> actor, storage, acl, retention, limits, paths, permissions.
``contracts.yaml``
    ``contracts:`` a list of connection contracts, each with its ``actions`` (see ``_actions``).
``oauth-clients.yaml`` (optional)
    ``clients:`` client id -> principal, scopes, secret_hash, keys, enabled (see ``_clients``).
``connections.yaml`` (optional)
    ``connections:`` name -> a remote endpoint (sftp, https, s3, gateway; see ``_connections``).
``tasks.yaml`` (optional)
    ``tasks:`` name -> steps, params, schedules; ``limits:`` (see ``_tasks``).

Validation is all-or-nothing and exhaustive: every problem in every file is collected, each as
``<file>: <key path>: <message>`` (the file shown relative to the working directory when it is
below it), and :func:`load_config` raises one :class:`ConfigurationError` listing them all, one
per line, so an operator fixes a configuration in one pass. A file that cannot be read or parsed
is reported once and the references into it are not checked, to avoid a cascade of
"unknown actor" errors. String values may use ``${ENV_VAR}`` (see ``_env``).

Mapping keys are never booleans here: YAML 1.1 (PyYAML) reads a plain ``on``, ``off``, ``yes``,
``no``, ``true`` or ``false`` key as ``True``/``False``, which would turn a contract action's
``on: [upload]`` into ``True: [upload]``. Such keys are read as the text written instead;
values keep YAML's meaning (``enabled: yes`` is still ``True``).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from gateway.config._actors import parse_actors
from gateway.config._agents import parse_agents
from gateway.config._clients import parse_clients
from gateway.config._connections import parse_connections
from gateway.config._contracts import parse_contracts
from gateway.config._env import substitute
from gateway.config._fields import Cursor
from gateway.config._server import parse_gateway
from gateway.config._tasks import parse_tasks
from gateway.config._vfs import parse_vfs
from gateway.config.schema import GatewayConfig, ServerConfig, TasksConfig
from gateway.errors import ConfigurationError

GATEWAY_FILE = "gateway.yaml"
ACTORS_FILE = "actors.yaml"
VFS_FILE = "vfs.yaml"
CONTRACTS_FILE = "contracts.yaml"
CLIENTS_FILE = "oauth-clients.yaml"
CONNECTIONS_FILE = "connections.yaml"
TASKS_FILE = "tasks.yaml"


def load_config(config_dir: Path, data_dir: Path) -> GatewayConfig:
    """Return the validated configuration, or raise ``ConfigurationError`` listing every problem."""
    config, problems = _build(config_dir, data_dir, os.environ)
    if config is None:
        raise ConfigurationError("\n".join(problems))
    return config


def collect_errors(config_dir: Path, data_dir: Path) -> list[str]:
    """Every problem in the configuration (for ``check-config``); ``[]`` when it is valid."""
    return _build(config_dir, data_dir, os.environ)[1]


def _build(config_dir: Path, data_dir: Path, env: Mapping[str, str]) -> tuple[GatewayConfig | None, list[str]]:
    problems: list[str] = []
    if not config_dir.is_dir():
        problems.append(f"{display_path(config_dir)}: the configuration folder does not exist or is not a folder")
        return None, problems
    gateway_cur, gateway_data, gateway_ok = _read(config_dir / GATEWAY_FILE, problems, env, required=False)
    actors_cur, actors_data, actors_ok = _read(config_dir / ACTORS_FILE, problems, env, required=True)
    vfs_cur, vfs_data, vfs_ok = _read(config_dir / VFS_FILE, problems, env, required=True)
    contracts_cur, contracts_data, contracts_ok = _read(config_dir / CONTRACTS_FILE, problems, env, required=True)
    connections_cur, connections_data, connections_ok = _read(config_dir / CONNECTIONS_FILE, problems, env, False)

    server, storages = parse_gateway(gateway_cur, gateway_data, data_dir) if gateway_ok else (ServerConfig(), None)
    principals = parse_actors(actors_cur, actors_data) if actors_ok else None
    vfss = parse_vfs(vfs_cur, vfs_data, principals, storages) if vfs_ok else None
    contracts = parse_contracts(contracts_cur, contracts_data, principals, vfss) if contracts_ok else []
    clients_cur, clients_data, clients_ok = _read(config_dir / CLIENTS_FILE, problems, env, required=False)
    users = principals.users if principals is not None else None
    clients = parse_clients(clients_cur, clients_data, users) if clients_ok else {}
    connections = parse_connections(connections_cur, connections_data) if connections_ok else {}
    tasks_cur, tasks_data, tasks_ok = _read(config_dir / TASKS_FILE, problems, env, required=False)
    known_connections = connections if connections_ok else None
    tasks = parse_tasks(tasks_cur, tasks_data, vfss, known_connections) if tasks_ok else None
    agents_data = gateway_data.get("agents") if isinstance(gateway_data, dict) else None
    agents = parse_agents(gateway_cur.at("agents"), agents_data, users)
    if problems or storages is None or principals is None or vfss is None:
        return None, problems
    config = GatewayConfig(
        source=config_dir,
        actors=MappingProxyType(principals.actors),
        groups=MappingProxyType(principals.groups),
        users=MappingProxyType(principals.users),
        storages=MappingProxyType(storages),
        vfs=MappingProxyType(vfss),
        contracts=tuple(contracts),
        server=server,
        oauth_clients=MappingProxyType(clients),
        connections=MappingProxyType(connections),
        tasks=tasks or TasksConfig(),
        agents=agents,
    )
    return config, problems


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it, else as given."""
    try:
        return str(Path(os.path.abspath(path)).relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(path)


def _read(path: Path, problems: list[str], env: Mapping[str, str], required: bool) -> tuple[Cursor, object, bool]:
    """Parse one file: ``(cursor, data, ok)``; a missing optional file is ``(cursor, None, True)``."""
    cur = Cursor(problems, display_path(path))
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        if not required:
            return cur, None, True
        other = path.with_suffix(".yml")
        hint = f" Hint: rename {other.name} to {path.name}" if other.exists() else ""
        cur.error(f"file not found (it is required).{hint}")
        return cur, None, False
    except UnicodeDecodeError as exc:
        cur.error(f"not valid UTF-8 (byte {exc.start})")
        return cur, None, False
    except OSError as exc:
        cur.error(f"cannot read the file: {exc.strerror or exc}")
        return cur, None, False
    loader = _StrictSafeLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        cur.error(f"invalid YAML: {_describe_yaml_error(exc)}")
        return cur, None, False
    finally:
        loader.dispose()
    for line, key in loader.duplicates:
        cur.error(f"line {line}: duplicate key {key!r} (YAML would silently keep only the last one)")
    return cur, substitute(data, cur, env), True


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem or exc.context}"
    return " ".join(str(exc).split())


_BOOL_TAG = "tag:yaml.org,2002:bool"
_STR_TAG = "tag:yaml.org,2002:str"


def _text_key(key: yaml.Node) -> yaml.Node:
    """A plain key YAML 1.1 resolves to a boolean (``on``, ``yes``...), as the string written."""
    if isinstance(key, yaml.ScalarNode) and key.tag == _BOOL_TAG and key.style is None:
        return yaml.ScalarNode(_STR_TAG, key.value, key.start_mark, key.end_mark)
    return key


class _StrictSafeLoader(yaml.SafeLoader):
    """``yaml.safe_load`` semantics, plus a record of duplicate mapping keys and textual keys.

    PyYAML keeps the last of two equal keys without a word, which would silently drop a user
    or a VFS declared twice; the loader reports them instead. Keys that YAML 1.1 would read as
    booleans stay strings (see the module docstring).
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, object]] = []

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        node.value = [(_text_key(key), value) for key, value in node.value]
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node)
            if key in seen:
                self.duplicates.append((key_node.start_mark.line + 1, key))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
