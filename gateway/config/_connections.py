"""``connections.yaml``: remote endpoints (SFTP, HTTPS, S3, another gateway) that steps talk to.

``connections:`` maps a name to a mapping whose ``type`` decides the other keys (see
docs/connections.md). Secrets (passwords, keys, tokens, URLs that may carry a token) are meant
to come from ``${ENV}`` and are never shown in a message. Everything a connector needs at run
time is checked here: an SFTP connection must pin at least one host key (an unknown host is
refused, never trusted on first use), a private key must load with its passphrase, certificate
files must be readable, plain ``http://`` needs ``allow_http: true``.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from gateway.config._actions import parse_headers, url_problem
from gateway.config._fields import Cursor, Fields, check_name, pick, type_name
from gateway.config.schema import (
    Connection,
    HttpsConnection,
    PeerGatewayConnection,
    S3Connection,
    SftpConnection,
    TlsClient,
)
from gateway.core.paths import validate_segment
from gateway.errors import InvalidPathError

TYPES = ("sftp", "https", "s3", "gateway")
_TLS_KEYS = ("ca_bundle", "client_cert", "client_key")
_KEYS = {
    "sftp": ("host", "port", "username", "password", "private_key", "private_key_passphrase", "host_keys", "root",
             "chunk_size"),
    "https": ("download_url", "upload_url", "delete_url", "upload_method", "headers", "allow_http", *_TLS_KEYS),
    "s3": ("bucket", "endpoint", "region", "prefix", "access_key_id", "secret_access_key", "session_token",
           "allow_http", "part_size"),
    "gateway": ("url", "root", "username", "password", "token", "api_key", "allow_http", *_TLS_KEYS),
}  # fmt: skip
_REQUIRED = {"sftp": ("host", "username", "host_keys"), "https": (), "s3": ("bucket",), "gateway": ("url",)}
_PLACEHOLDERS = ("path", "name")
MIN_PART_SIZE = 5 * 2**20


def parse_connections(cur: Cursor, data: object) -> dict[str, Connection]:
    """The connections of one ``connections.yaml`` document (``None``: the file is absent)."""
    top = Fields(cur, data, allowed=("connections",))
    result: dict[str, Connection] = {}
    for name, ccur, body in top.entries("connections", what="connection name"):
        if not isinstance(body, dict):
            ccur.error(f"expected a connection (a mapping with 'type', ...), got {type_name(body)}")
            continue
        kind_value = body.get("type")
        if not isinstance(kind_value, str) or kind_value not in TYPES:
            if isinstance(kind_value, str):
                pick(ccur.at("type"), kind_value, TYPES, what="connection type")
            else:
                ccur.at("type").error(f"missing or not a string. Hint: choose one of: {', '.join(TYPES)}")
            continue
        reported = len(cur.problems)
        f = Fields(ccur, body, allowed=("type", "timeout_seconds", *_KEYS[kind_value]), required=_REQUIRED[kind_value])
        connection = _PARSERS[kind_value](name, f)
        if len(cur.problems) == reported:
            result[name] = connection
    return result


def _sftp(name: str, f: Fields) -> SftpConnection:
    password, key_text = f.text("password"), f.text("private_key")
    if not f.has("password") and not f.has("private_key"):
        f.cur.error("give 'password' or 'private_key' (or both)")
    passphrase = f.text("private_key_passphrase")
    private_key = None if key_text is None else _private_key(f.at("private_key"), key_text, passphrase)
    chunk = f.size("chunk_size", 256 * 1024) or 256 * 1024
    if not 4096 <= chunk <= 4 * 2**20:
        f.at("chunk_size").error(f"expected a size from 4KiB to 4MiB, got {chunk} bytes")
    return SftpConnection(
        name=name,
        host=_host(f, "host"),
        port=f.whole("port", 22, 1, 65535),
        username=_plain(f, "username") or "",
        host_keys=_host_keys(f),
        root=_root(f, "root", keep_absolute=True),
        password=password,
        private_key=private_key,
        private_key_passphrase=passphrase,
        timeout_seconds=f.seconds("timeout_seconds", 30.0, most=3600),
        chunk_size=chunk,
    )


def _https(name: str, f: Fields) -> HttpsConnection:
    urls = {key: _template(f, key) for key in ("download_url", "upload_url", "delete_url")}
    if not any(f.has(key) for key in urls):
        f.cur.error("give at least one of 'download_url', 'upload_url' or 'delete_url'")
    return HttpsConnection(
        name=name,
        download_url=urls["download_url"],
        upload_url=urls["upload_url"],
        delete_url=urls["delete_url"],
        upload_method=f.choice("upload_method", ("PUT", "POST"), "PUT", what="method"),
        headers=MappingProxyType(parse_headers(f)),
        tls=_tls(f),
        timeout_seconds=f.seconds("timeout_seconds", 30.0, most=3600),
    )


def _s3(name: str, f: Fields) -> S3Connection:
    endpoint = f.text("endpoint")
    if endpoint is not None:
        _check_url(f, "endpoint", endpoint)
    access, secret = f.text("access_key_id"), f.text("secret_access_key")
    if f.has("access_key_id") != f.has("secret_access_key"):
        f.cur.error("give both 'access_key_id' and 'secret_access_key', or neither (credentials from the environment)")
    part = f.size("part_size", 8 * 2**20) or 8 * 2**20
    if not MIN_PART_SIZE <= part <= 512 * 2**20:
        f.at("part_size").error(f"expected a size from 5MiB (S3's smallest part) to 512MiB, got {part} bytes")
    return S3Connection(
        name=name,
        bucket=_plain(f, "bucket") or "",
        endpoint=endpoint,
        region=_plain(f, "region") or "us-east-1",
        prefix=_root(f, "prefix", keep_absolute=False),
        access_key_id=access,
        secret_access_key=secret,
        session_token=f.text("session_token"),
        allow_http=f.flag("allow_http", False),
        part_size=part,
        timeout_seconds=f.seconds("timeout_seconds", 30.0, most=3600),
    )


def _gateway(name: str, f: Fields) -> PeerGatewayConnection:
    url = f.text("url") or ""
    if url:
        _check_url(f, "url", url)
    username, password = _plain(f, "username"), f.text("password")
    token, api_key = f.text("token"), f.text("api_key")
    given = {key: f.has(key) for key in ("username", "password", "token", "api_key")}  # a broken ${VAR} counts
    if (given["username"] or given["password"]) + given["token"] + given["api_key"] != 1:
        f.cur.error("give exactly one way to log in: 'username' with 'password', 'token' (bearer) or 'api_key'")
    elif given["username"] != given["password"]:
        f.cur.error("give both 'username' and 'password'")
    return PeerGatewayConnection(
        name=name,
        url=url.rstrip("/"),
        root=_root(f, "root", keep_absolute=False),
        username=username,
        password=password,
        token=token,
        api_key=api_key,
        tls=_tls(f),
        timeout_seconds=f.seconds("timeout_seconds", 30.0, most=3600),
    )


_PARSERS: dict[str, Callable[[str, Fields], Connection]] = {
    "sftp": _sftp,
    "https": _https,
    "s3": _s3,
    "gateway": _gateway,
}


def _plain(f: Fields, key: str) -> str | None:
    value = f.text(key)
    return None if value is None else check_name(f.at(key), value, key.replace("_", " "))


def _host(f: Fields, key: str) -> str:
    host = _plain(f, key) or ""
    if host and any(c in host for c in "/@ "):
        f.at(key).error(f"expected a host name or an IP address, got {host!r}")
    return host


def _root(f: Fields, key: str, keep_absolute: bool) -> str:
    """A remote folder of validated segments; kept absolute (``/x``) only where that means something."""
    text = f.text(key)
    if text is None:
        return ""
    try:
        segments = [validate_segment(part) for part in text.strip("/").split("/")] if text.strip("/") else []
    except InvalidPathError as exc:
        f.at(key).error(f"invalid folder {text!r}: {exc.message}")
        return ""
    joined = "/".join(segments)
    return "/" + joined if keep_absolute and text.startswith("/") else joined


def _host_keys(f: Fields) -> tuple[str, ...]:
    import asyncssh  # here, not at the top: only SFTP connections need it (~7 MiB a process)

    keys: list[str] = []
    for text, kcur in f.strings("host_keys", what="host key"):
        try:
            asyncssh.import_public_key(text)
        except (asyncssh.KeyImportError, ValueError):
            kcur.error(
                'not an OpenSSH public key line. Hint: e.g. "ssh-ed25519 AAAAC3Nz...", as printed by '
                "ssh-keyscan (without the host name) or found in the server's /etc/ssh/ssh_host_*_key.pub"
            )
            continue
        keys.append(text)
    if f.get("host_keys") == []:
        f.at("host_keys").error("must pin at least one host key (unknown hosts are never trusted)")
    return tuple(keys)


def _private_key(cur: Cursor, value: str, passphrase: str | None) -> str | None:
    """The key's text: ``value`` itself when it is PEM/OpenSSH text, else the file it names."""
    text = value
    if not value.lstrip().startswith("-----BEGIN"):
        if not PurePosixPath(value).is_absolute():
            cur.error("expected the key itself (-----BEGIN ...) or an absolute path to a key file")
            return None
        try:
            text = Path(value).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            cur.error(f"cannot read the key file {value!r}: {getattr(exc, 'strerror', None) or type(exc).__name__}")
            return None
    import asyncssh  # only SFTP connections need it, see _host_keys

    try:
        asyncssh.import_private_key(text, passphrase)
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError, ValueError):
        cur.error("cannot load the private key (wrong format, or a missing or wrong private_key_passphrase)")
        return None
    return text


def _check_url(f: Fields, key: str, url: str) -> None:
    problem = url_problem(url)
    if problem is not None:
        f.at(key).error(f"invalid URL: {problem}")
    elif url.lower().startswith("http:") and not f.flag("allow_http", False):
        f.at(key).error(
            "plain http:// sends credentials and files unencrypted. Hint: use https://, or set allow_http: true"
        )


def _template(f: Fields, key: str) -> str | None:
    url = f.text(key)
    if url is None:
        return None
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(url) if name is not None]
    except ValueError:
        f.at(key).error("unbalanced '{' or '}' in the URL template. Hint: write {{ and }} for literal braces")
        return None
    unknown = [name for name in fields if name not in _PLACEHOLDERS]
    if unknown:
        f.at(key).error(f"unknown placeholder {{{unknown[0]}}}. Hint: use {{path}} or {{name}}")
        return None
    _check_url(f, key, url.replace("{path}", "p").replace("{name}", "n"))
    return url


def _tls(f: Fields) -> TlsClient:
    files: dict[str, Path | None] = {}
    for key in _TLS_KEYS:
        value = f.text(key)
        files[key] = None
        if value is None:
            continue
        if not PurePosixPath(value).is_absolute():
            f.at(key).error(f"expected an absolute path to a PEM file, got {value!r}")
        elif not Path(value).is_file():
            f.at(key).error(f"no such file: {value!r}")
        else:
            files[key] = Path(value)
    if files["client_key"] is not None and files["client_cert"] is None:
        f.at("client_key").error("a client key needs its 'client_cert'")
    return TlsClient(ca_bundle=files["ca_bundle"], client_cert=files["client_cert"], client_key=files["client_key"])
