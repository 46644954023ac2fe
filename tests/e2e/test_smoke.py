from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import Curl, assert_envelope


def test_smoke_login_upload_download_roundtrip(curl: Curl, tmp_path: Path) -> None:
    assert curl.login("alice").status == 200
    src = tmp_path / "hello.txt"
    src.write_bytes(b"hello")
    put = curl("-X", "PUT", "-F", f"file=@{src}", path="/2.0/files/inbox/hello.txt")
    assert put.status == 201, put.body
    got = curl(path="/2.0/files/inbox/hello.txt")
    assert got.status == 200 and got.body == b"hello"
    assert_envelope(curl(path="/2.0/files/inbox/nope.txt"), 404, "io", "File 'nope.txt' doesn't exist")
