"""``gateway.yaml``: server-wide settings and the storage locations.

The file is optional; without it every :class:`ServerConfig` default applies and there is one
storage, ``default``, under ``<data dir>/storage``. A relative storage ``root`` resolves against
the data directory (so a configuration folder can be moved between hosts with only the data
directory changing); an absolute one is kept.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import urllib.parse
from pathlib import Path

from gateway.config._abuse import parse_defender, parse_rate_limits
from gateway.config._fields import Cursor, Fields, describe
from gateway.config.schema import HTTP_SERVERS, MAX_WORKERS, ServerConfig, Storage, auto_workers

_TOP_KEYS = ("server", "storages", "defender", "rate_limits", "agents")
_SERVER_KEYS = (
    "session_idle_seconds",
    "session_absolute_seconds",
    "trusted_proxies",
    "max_upload_bytes",
    "max_metadata_bytes",
    "cookie_samesite",
    "dispatch_concurrency",
    "dispatch_poll_seconds",
    "expiry_sweep_seconds",
    "catalog_durable",
    "http_server",
    "workers",
    "public_url",
    "token_default_minutes",
    "token_max_minutes",
    "oauth_token_minutes",
    "signing_key_rotation_days",
    "client_assertion_max_lifetime_seconds",
    "client_assertion_leeway_seconds",
    "request_head_seconds",
    "body_idle_seconds",
    "keep_alive_seconds",
    "max_connections_per_address",
    "max_header_bytes",
)
_STORAGE_KEYS = ("type", "root", "durable", "inline_small_reads", "inline_small_writes")
DEFAULT_STORAGE = "default"


def parse_gateway(cur: Cursor, data: object, data_dir: Path) -> tuple[ServerConfig, dict[str, Storage]]:
    top = Fields(cur, data, allowed=_TOP_KEYS)
    server = _server(Fields(top.at("server"), top.get("server"), allowed=_SERVER_KEYS))
    server = dataclasses.replace(server, defender=parse_defender(top), rate_limits=parse_rate_limits(top))
    return server, _storages(top, data_dir)


def _server(f: Fields) -> ServerConfig:
    defaults = ServerConfig()
    idle = f.integer("session_idle_seconds", defaults.session_idle_seconds)
    absolute = f.integer("session_absolute_seconds", defaults.session_absolute_seconds)
    if absolute < idle:
        f.at("session_absolute_seconds").error(
            f"the absolute session lifetime ({absolute}s) is shorter than the idle lifetime ({idle}s)"
        )
    proxies: list[str] = []
    for text, pcur in f.strings("trusted_proxies", what="address"):
        try:
            ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            pcur.error(f"invalid IP address or CIDR network {text!r}: {exc}")
            continue
        proxies.append(text)
    return ServerConfig(
        session_idle_seconds=idle,
        session_absolute_seconds=absolute,
        trusted_proxies=tuple(proxies),
        max_upload_bytes=f.size("max_upload_bytes", defaults.max_upload_bytes),
        max_metadata_bytes=f.size("max_metadata_bytes", None) or defaults.max_metadata_bytes,
        cookie_samesite=f.choice("cookie_samesite", ("lax", "strict", "none"), defaults.cookie_samesite),
        dispatch_concurrency=f.whole("dispatch_concurrency", defaults.dispatch_concurrency, 1, 256),
        dispatch_poll_seconds=f.seconds("dispatch_poll_seconds", defaults.dispatch_poll_seconds, most=60),
        expiry_sweep_seconds=f.seconds("expiry_sweep_seconds", defaults.expiry_sweep_seconds, zero=True),
        catalog_durable=f.flag("catalog_durable", defaults.catalog_durable),
        http_server=f.choice("http_server", HTTP_SERVERS, defaults.http_server, what="HTTP server"),
        workers=_workers(f, defaults.workers),
        public_url=_public_url(f),
        token_default_minutes=f.whole("token_default_minutes", defaults.token_default_minutes, 1, 525600),
        token_max_minutes=_token_max(f, defaults.token_max_minutes),
        oauth_token_minutes=f.whole("oauth_token_minutes", defaults.oauth_token_minutes, 1, 1440),
        signing_key_rotation_days=f.whole("signing_key_rotation_days", defaults.signing_key_rotation_days, 1, 3650),
        client_assertion_max_lifetime_seconds=f.whole(
            "client_assertion_max_lifetime_seconds", defaults.client_assertion_max_lifetime_seconds, 1, 3600
        ),
        client_assertion_leeway_seconds=f.whole(
            "client_assertion_leeway_seconds", defaults.client_assertion_leeway_seconds, 0, 300
        ),
        request_head_seconds=f.seconds("request_head_seconds", defaults.request_head_seconds, most=3600),
        body_idle_seconds=f.seconds("body_idle_seconds", defaults.body_idle_seconds, most=86400),
        keep_alive_seconds=f.seconds("keep_alive_seconds", defaults.keep_alive_seconds, most=3600),
        max_connections_per_address=f.whole(
            "max_connections_per_address", defaults.max_connections_per_address, 0, 1_000_000
        ),
        max_header_bytes=_header_bytes(f, defaults.max_header_bytes),
    )


def _token_max(f: Fields, default: int) -> int:
    most = f.whole("token_max_minutes", default, 1, 525600)
    asked = f.get("token_default_minutes")
    if isinstance(asked, int) and not isinstance(asked, bool) and asked > most:
        f.at("token_default_minutes").error(f"greater than token_max_minutes ({most})")
    return most


def _public_url(f: Fields) -> str | None:
    text = f.text("public_url")
    if text is None:
        return None
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        f.at("public_url").error(f"expected an http(s) base URL like https://mft.example.com, got {text!r}")
        return None
    return text.rstrip("/")


MIN_HEADER_BYTES = 8 * 1024  # below this, ordinary clients (cookies, 4 KiB paths) would be refused
MAX_HEADER_BYTES = 1024 * 1024


def _header_bytes(f: Fields, default: int) -> int:
    value = f.size("max_header_bytes", None)
    if value is None:
        return default
    if not MIN_HEADER_BYTES <= value <= MAX_HEADER_BYTES:
        f.at("max_header_bytes").error(f"expected a size from 8KiB to 1MiB, got {value} bytes")
        return default
    return value


def _workers(f: Fields, default: int) -> int:
    value = f.get("workers")
    if value == "auto":
        return auto_workers()
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_WORKERS):
        return default if value is None else value
    f.at("workers").error(f"expected 'auto' or a whole number from 1 to {MAX_WORKERS}, got {describe(value)}")
    return default


def _storages(top: Fields, data_dir: Path) -> dict[str, Storage]:
    storages: dict[str, Storage] = {}
    for name, scur, body in top.entries("storages", what="storage name"):
        f = Fields(scur, body, allowed=_STORAGE_KEYS, required=("root",))
        root = f.text("root")
        if root == "":
            f.at("root").error("must not be empty")
        storages[name] = Storage(
            name=name,
            type=f.choice("type", ("local",), "local", what="storage type"),
            root=resolve_root(data_dir, root or name),
            durable=f.flag("durable", True),
            inline_small_reads=f.flag("inline_small_reads", True),
            inline_small_writes=f.flag("inline_small_writes", True),
        )
    if not storages:
        storages[DEFAULT_STORAGE] = Storage(DEFAULT_STORAGE, "local", resolve_root(data_dir, "storage"))
    return storages


def resolve_root(data_dir: Path, root: str) -> Path:
    """An absolute, normalised root (``..`` folded, symlinks left alone)."""
    return Path(os.path.abspath(data_dir / root))
