"""Secrets out of every answer: the one place that decides what an API may show of a task or run.

A stored task definition keeps its secrets in clear (the executor needs them): webhook secrets,
header values (``Authorization``), command environment values, values substituted from
``${ENV}``. Every view of a definition, a run's ``params``, its output and its steps passes through
here before it leaves the process, so the rules live in one module:

- by key: any key naming a secret (``secret``, ``password``, ``token``, ...) and every value of
  ``headers`` and ``env`` is replaced by :data:`MASK`; a URL keeps its scheme, host and path (its
  user-info and query may carry credentials);
- by value: every secret string known to the configuration (contract actions, connections,
  configured tasks, the values of the environment variables the configuration files reference)
  and to the run's own definition is replaced wherever it appears in free text (a receiver that
  echoes the headers, a command that prints its environment).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gateway.catalog import tasks as task_catalog
from gateway.catalog.records import RunRecord
from gateway.config.schema import GatewayConfig, HttpsConnection, PeerGatewayConnection, S3Connection, SftpConnection
from gateway.core.runtime import Runtime

MASK = "***"
_MIN_LENGTH = 4  # shorter values ("1", "yes") would mask innocent text and protect nothing
_SECRET_WORDS = ("secret", "password", "passphrase", "token", "private_key", "api_key", "apikey", "authorization",
                 "credential", "access_key")  # fmt: skip
_MAPS = ("headers", "env")
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_cache: dict[int, tuple[GatewayConfig, frozenset[str]]] = {}
_version_cache: dict[tuple[int, str, int], frozenset[str]] = {}
_VERSION_CACHE_SIZE = 4096


def secret_key(key: str) -> bool:
    """Whether a key (a definition's, a param's) names a secret."""
    lowered = key.lower().replace("-", "_")
    return any(word in lowered for word in _SECRET_WORDS)


def _url(text: str) -> str:
    try:
        parts = urlsplit(text)
    except ValueError:
        return MASK
    if not parts.scheme or not parts.netloc:
        return text
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{MASK}@{host}" if "@" in parts.netloc else host
    query = "&".join(f"{p.partition('=')[0]}={MASK}" for p in parts.query.split("&") if p) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def definition(body: Any) -> Any:
    """A copy of a definition (any JSON-like tree) with every secret value masked."""
    if isinstance(body, list):
        return [definition(item) for item in body]
    if not isinstance(body, dict):
        return body
    shown: dict[str, Any] = {}
    for key, value in body.items():
        name = str(key)
        if secret_key(name) and value is not None:
            shown[name] = MASK
        elif name in _MAPS and isinstance(value, dict):
            shown[name] = {k: MASK for k in value}
        elif name.endswith("url") and isinstance(value, str):
            shown[name] = _url(value)
        else:
            shown[name] = definition(value)
    return shown


def values_in(body: Any) -> set[str]:
    """The secret strings of a definition (what :func:`definition` masks), for :func:`text`."""
    found: set[str] = set()
    if isinstance(body, list):
        for item in body:
            found |= values_in(item)
    elif isinstance(body, dict):
        for key, value in body.items():
            name = str(key)
            if secret_key(name) and isinstance(value, str):
                found.add(value)
            elif name in _MAPS and isinstance(value, dict):
                found |= {v for v in value.values() if isinstance(v, str)}
            elif name.endswith("url") and isinstance(value, str):
                found |= _url_secrets(value)
            else:
                found |= values_in(value)
    return {v for v in found if len(v) >= _MIN_LENGTH}


def _url_secrets(text: str) -> set[str]:
    try:
        parts = urlsplit(text)
    except ValueError:
        return {text}
    found = {p.partition("=")[2] for p in parts.query.split("&") if "=" in p}
    if "@" in parts.netloc:
        found.add(parts.netloc.rpartition("@")[0])
    return found


def _environment_values(config: GatewayConfig) -> set[str]:
    """The values of the environment variables the configuration files reference as ``${NAME}``."""
    names: set[str] = set()
    folder = config.source if config.source.is_dir() else config.source.parent
    for path in list(folder.glob("*.yaml")) + list(folder.glob("*.yml")):
        try:
            names |= set(_REFERENCE.findall(path.read_text("utf-8", errors="replace")))
        except OSError:
            continue
    return {os.environ[name] for name in names if name in os.environ}


def _connection_values(config: GatewayConfig) -> set[str]:
    found: set[str] = set()
    for conn in config.connections.values():
        if isinstance(conn, SftpConnection):
            found |= {v for v in (conn.password, conn.private_key, conn.private_key_passphrase) if v}
        elif isinstance(conn, HttpsConnection):
            found |= set(conn.headers.values())
            for url in (conn.download_url, conn.upload_url, conn.delete_url):
                found |= _url_secrets(url) if url else set()
        elif isinstance(conn, S3Connection):
            found |= {v for v in (conn.access_key_id, conn.secret_access_key, conn.session_token) if v}
        elif isinstance(conn, PeerGatewayConnection):
            found |= {v for v in (conn.password, conn.token) if v}
    return found


def config_values(config: GatewayConfig) -> frozenset[str]:
    """Every secret string of the configuration (computed once per loaded configuration)."""
    cached = _cache.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    found = _environment_values(config) | _connection_values(config)
    for contract in config.contracts:
        for action in contract.actions:
            if action.webhook is not None:
                found |= set(action.webhook.headers.values()) | _url_secrets(action.webhook.url)
                found |= {action.webhook.secret} if action.webhook.secret else set()
            if action.command is not None:
                found |= set(action.command.env.values())
    for text in config.tasks.definitions.values():
        found |= values_in(json.loads(text))
    result = frozenset(v for v in found if len(v) >= _MIN_LENGTH)
    _cache[id(config)] = (config, result)
    return result


def text(value: str, secrets: Iterable[str]) -> str:
    """``value`` with every occurrence of a secret replaced by :data:`MASK` (longest first)."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in value:
            value = value.replace(secret, MASK)
    return value


def params(values: Mapping[str, str], secrets: Iterable[str]) -> dict[str, str]:
    """A run's parameters as shown: a secret-named one masked, secrets in the others masked."""
    known = list(secrets)
    return {k: MASK if secret_key(k) else text(v, known) for k, v in values.items()}


def steps(state: Iterable[Mapping[str, object]], secrets: Iterable[str]) -> list[dict[str, object]]:
    """A run's per-step state as shown: free text (output, error) scrubbed."""
    known = list(secrets)
    return [{k: text(v, known) if isinstance(v, str) else v for k, v in step.items()} for step in state]


async def run_secrets(rt: Runtime, run: RunRecord) -> frozenset[str]:
    """The secrets a run's answers may hold: the configuration's and its task version's."""
    found = config_values(rt.config)
    if run.kind != task_catalog.TASK_KIND or run.task_version is None:
        return found
    key = (id(rt.db), run.action, run.task_version)  # a task version never changes: cache its secrets
    own = _version_cache.get(key)
    if own is None:
        version = await task_catalog.get(rt.db, run.action, run.task_version)
        own = frozenset() if version is None else frozenset(values_in(json.loads(version.definition)))
        if len(_version_cache) >= _VERSION_CACHE_SIZE:
            _version_cache.clear()
        _version_cache[key] = own
    return found | own


async def run(rt: Runtime, record: RunRecord) -> RunRecord:
    """``record`` as any API may show it: params, output, error, history and steps scrubbed."""
    own = {v for k, v in record.params.items() if secret_key(k) and len(v) >= _MIN_LENGTH}
    secrets = list(await run_secrets(rt, record) | own)
    return dataclasses.replace(
        record,
        params=params(record.params, secrets),
        output=text(record.output, secrets),
        last_error=text(record.last_error, secrets),
        history=steps(record.history, secrets),
        steps=steps(record.steps, secrets),
    )
