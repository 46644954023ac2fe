"""``connections.yaml``: the four connection types, each mistake named by file and key, secrets hidden."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncssh
import pytest

from gateway.config.loader import collect_errors, load_config
from gateway.config.schema import HttpsConnection, PeerGatewayConnection, S3Connection, SftpConnection
from tests.config.test_loader import _base, _write

HOST_KEY = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
SECRET = "Very-Secret-Value-1234"


def _with(tmp_path: Path, connections: Any) -> Path:
    config = _base()
    config["connections.yaml"] = {"connections": connections}
    return _write(tmp_path / "cfg", config)


def _sftp(**extra: Any) -> dict[str, Any]:
    base = {"type": "sftp", "host": "sftp.example", "username": "mft", "password": SECRET, "host_keys": [HOST_KEY]}
    return base | extra


def test_connections_all_four_types_load_with_secrets_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GW_TEST_SECRET", SECRET)
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(key.export_private_key(passphrase="pass-phrase"))
    ca = tmp_path / "ca.pem"
    ca.write_text("not parsed at load")
    folder = _with(
        tmp_path,
        {
            "partner-sftp": _sftp(
                password=None,
                private_key=str(key_file),
                private_key_passphrase="pass-phrase",
                port=2222,
                root="/upload/in",
                chunk_size="128KiB",
            ),
            "erp": {
                "type": "https",
                "download_url": "https://erp.example/files/{path}?token=${GW_TEST_SECRET}",
                "upload_url": "https://erp.example/in/{name}",
                "upload_method": "POST",
                "headers": {"Authorization": "Bearer ${GW_TEST_SECRET}"},
                "ca_bundle": str(ca),
            },
            "archive": {
                "type": "s3",
                "endpoint": "http://127.0.0.1:9000",
                "allow_http": True,
                "bucket": "mft",
                "prefix": "/partners/acme/",
                "access_key_id": "AKIA",
                "secret_access_key": "${GW_TEST_SECRET}",
                "part_size": "16MiB",
            },
            "hub": {"type": "gateway", "url": "https://hub.example/", "token": "${GW_TEST_SECRET}", "root": "in/x"},
        },
    )
    config = load_config(folder, tmp_path / "data")
    sftp, https, s3, hub = (config.connections[n] for n in ("partner-sftp", "erp", "archive", "hub"))
    assert isinstance(sftp, SftpConnection) and sftp.port == 2222 and sftp.root == "/upload/in"
    assert sftp.private_key is not None and sftp.private_key.startswith("-----BEGIN") and sftp.chunk_size == 131072
    assert sftp.host_keys == (HOST_KEY,) and sftp.password is None
    assert isinstance(https, HttpsConnection) and https.upload_method == "POST" and https.tls.ca_bundle == ca
    assert https.download_url == f"https://erp.example/files/{{path}}?token={SECRET}"
    assert isinstance(s3, S3Connection) and s3.prefix == "partners/acme" and s3.part_size == 16 * 2**20
    assert s3.secret_access_key == SECRET
    assert isinstance(hub, PeerGatewayConnection) and hub.url == "https://hub.example" and hub.root == "in/x"
    shown = repr(config.connections)
    assert SECRET not in shown and "BEGIN" not in shown and "pass-phrase" not in shown


def test_connections_file_is_optional(tmp_path: Path) -> None:
    folder = _write(tmp_path / "cfg", _base())
    assert dict(load_config(folder, tmp_path / "data").connections) == {}


BAD: list[tuple[Any, str]] = [
    ({"x": {"type": "ftp"}}, "connections.x.type: unknown connection type 'ftp'. Hint: choose one of"),
    ({"x": {"host": "h"}}, "connections.x.type: missing or not a string"),
    ({"x": _sftp(host_keys=None)}, "connections.x.host_keys: missing required key"),
    ({"x": _sftp(host_keys=[])}, "connections.x.host_keys: must pin at least one host key"),
    ({"x": _sftp(host_keys=["ssh-ed25519 garbage"])}, "connections.x.host_keys[0]: not an OpenSSH public key line"),
    ({"x": _sftp(password=None)}, "connections.x: give 'password' or 'private_key' (or both)"),
    ({"x": _sftp(private_key="id_rsa")}, "connections.x.private_key: expected the key itself (-----BEGIN ...)"),
    ({"x": _sftp(private_key="-----BEGIN nonsense")}, "connections.x.private_key: cannot load the private key"),
    ({"x": _sftp(root="up/../../etc")}, "connections.x.root: invalid folder 'up/../../etc'"),
    ({"x": _sftp(port=0)}, "connections.x.port: expected a whole number from 1 to 65535, got 0"),
    ({"x": _sftp(hots="h")}, "connections.x.hots: unknown key. Did you mean 'host'?"),
    ({"x": {"type": "s3"}}, "connections.x.bucket: missing required key"),
    ({"x": {"type": "s3", "bucket": "b", "endpoint": "http://s3.local"}}, "connections.x.endpoint: plain http://"),
    ({"x": {"type": "s3", "bucket": "b", "part_size": "1MiB"}}, "connections.x.part_size: expected a size from 5MiB"),
    ({"x": {"type": "s3", "bucket": "b", "access_key_id": "a"}}, "connections.x: give both 'access_key_id' and"),
    ({"x": {"type": "https"}}, "connections.x: give at least one of 'download_url', 'upload_url' or 'delete_url'"),
    ({"x": {"type": "https", "upload_url": "https://h/{file}"}}, "connections.x.upload_url: unknown placeholder"),
    ({"x": {"type": "https", "upload_url": "ftp://h/{path}"}}, "connections.x.upload_url: invalid URL: the scheme"),
    ({"x": {"type": "https", "upload_url": "https://h/{path", "client_key": "/nonexistent.pem"}}, "unbalanced"),
    ({"x": {"type": "gateway", "url": "https://g", "token": "t", "api_key": "k"}}, "connections.x: give exactly one"),
    ({"x": {"type": "gateway", "url": "https://g", "username": "u"}}, "connections.x: give both 'username' and"),
    ({"x": {"type": "gateway", "url": "http://g", "token": "t"}}, "connections.x.url: plain http://"),
    ({"x": {"type": "gateway", "url": "https://g", "token": "${GW_UNSET_VAR}"}}, "connections.x.token: environment"),
]


@pytest.mark.parametrize(("connections", "expected"), BAD, ids=[b[1][:50] for b in BAD])
def test_connections_one_mistake_gives_one_message_naming_file_and_key(
    tmp_path: Path, connections: Any, expected: str
) -> None:
    problems = collect_errors(_with(tmp_path, connections), tmp_path / "data")
    if "unbalanced" in expected:  # and the missing key file: two mistakes, two messages
        assert len(problems) == 2 and any("unbalanced" in p for p in problems), problems
        return
    assert len(problems) == 1, problems
    assert problems[0].startswith("cfg/connections.yaml: ") or "/connections.yaml: " in problems[0]
    assert expected in problems[0], problems
    assert SECRET not in problems[0]


def test_connections_messages_never_show_secrets(tmp_path: Path) -> None:
    problems = collect_errors(
        _with(
            tmp_path,
            {
                "a": {"type": "https", "upload_url": f"https://h/{{path}}?t={SECRET} x"},
                "b": {"type": "https", "upload_url": "https://h/{path}", "headers": {"X-Token": f"{SECRET}\n"}},
                "c": _sftp(private_key=f"-----BEGIN {SECRET}"),
            },
        ),
        tmp_path / "data",
    )
    assert len(problems) == 3, problems
    assert not any(SECRET in p for p in problems), problems
