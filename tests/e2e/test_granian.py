"""The gateway served by granian (``server.http_server: granian`` / ``--http-server granian``).

The same partner-visible behaviour as under uvicorn, checked with real curl and httpx: login,
multipart upload, whole-file download (sent by granian itself through ASGI pathsend when the
storage reader names its file), Range resume, HEAD, the error envelope, a 10 MiB transfer,
TLS, and a SIGTERM that lets a download in flight finish and exits 0.
"""

from __future__ import annotations

import hashlib
import os
import re
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import CURL, Curl, Gateway, assert_envelope, default_config, merged, running, tls_files
from tests.e2e.test_api import file_path, unique, upload

MiB = 1024 * 1024
_LISTENING = re.compile(r"listening on \S+ \((\w+)\)")


def _server_named(gw: Gateway) -> str:
    """The ASGI server the startup line names."""
    found = _LISTENING.search(gw.log())
    assert found, gw.log()
    return found.group(1)


@pytest.fixture(scope="module")
def gateway(catalog_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """granian chosen by gateway.yaml alone (no CLI flag)."""
    config = merged(default_config(), http_server="granian")
    with running(Gateway(root=tmp_path_factory.mktemp("gw"), database_url=catalog_url, config=config)) as gw:
        yield gw


@pytest.fixture
def alice(curl: Curl) -> Curl:
    assert curl.login("alice").status == 200
    return curl


def _resume(curl: Curl, url_path: str, output: Path) -> subprocess.CompletedProcess[bytes]:
    """``curl -C -``: continue ``output`` from its current size, as a partner script resumes."""
    assert CURL is not None
    headers = output.with_suffix(".headers")
    cmd = [CURL, "-s", "-k", "-b", str(curl.jar), "-D", str(headers), "-C", "-", "-o", str(output)]
    return subprocess.run([*cmd, curl.gateway.url + url_path], capture_output=True, timeout=120)


def test_granian_config_key_selects_granian(gateway: Gateway) -> None:
    assert _server_named(gateway) == "granian"


def test_granian_login_upload_download_whole_file(alice: Curl, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    name = unique("whole") + ".bin"
    upload(alice, tmp_path, "inbox", name, data)
    got = alice(path=file_path("inbox", name))
    assert got.status == 200 and got.returncode == 0
    assert hashlib.sha256(got.body).hexdigest() == hashlib.sha256(data).hexdigest()
    assert got.headers["content-length"] == str(len(data))
    assert got.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert got.headers["repr-digest"].startswith("sha-256=:")
    assert got.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert "x-request-id" in got.headers  # the app's access log middleware saw the response


def test_granian_range_resume_returns_206_and_completes_the_file(alice: Curl, tmp_path: Path) -> None:
    data = os.urandom(1 * MiB + 123)
    name = unique("resume") + ".bin"
    upload(alice, tmp_path, "inbox", name, data)
    partial = tmp_path / "partial.bin"
    partial.write_bytes(data[:400_000])
    done = _resume(alice, file_path("inbox", name), partial)
    assert done.returncode == 0, done.stderr
    status_line = partial.with_suffix(".headers").read_text().splitlines()[0]
    assert status_line.split()[1] == "206", status_line
    assert hashlib.sha256(partial.read_bytes()).digest() == hashlib.sha256(data).digest()
    ranged = alice("-r", "10-19", path=file_path("inbox", name))
    assert ranged.status == 206 and ranged.body == data[10:20]
    assert ranged.headers["content-range"] == f"bytes 10-19/{len(data)}"


def test_granian_head_sends_headers_only(gateway: Gateway, alice: Curl, tmp_path: Path) -> None:
    name = unique("head") + ".bin"
    upload(alice, tmp_path, "inbox", name, b"x" * 4321)
    with closing(gateway.client("alice")) as client:
        r = client.head(file_path("inbox", name))
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == "4321"
    assert r.headers["etag"] == f'"{hashlib.sha256(b"x" * 4321).hexdigest()}"'


def test_granian_missing_file_returns_404_envelope(alice: Curl) -> None:
    assert_envelope(alice(path="/2.0/files/inbox/x.txt"), 404, "io", "File 'x.txt' doesn't exist")


def test_granian_10_mib_upload_and_download_with_httpx(gateway: Gateway, tmp_path: Path) -> None:
    data = os.urandom(10 * MiB)
    name = unique("big") + ".bin"
    with closing(gateway.client("alice")) as client:
        r = client.put(file_path("inbox", name), files={"file": (name, data, "application/octet-stream")})
        assert r.status_code == 201, r.text
        digest = hashlib.sha256()
        with client.stream("GET", file_path("inbox", name)) as response:
            assert response.status_code == 200
            assert response.headers["content-length"] == str(len(data))
            for chunk in response.iter_bytes():
                digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


def test_granian_cli_flag_wins_over_config(catalog_url: str | None, tmp_path: Path) -> None:
    config = merged(default_config(), http_server="granian")
    with running(Gateway(root=tmp_path / "gw", database_url=catalog_url, config=config, http_server="uvicorn")) as gw:
        assert _server_named(gw) == "uvicorn"


def test_granian_cli_flag_with_tls_serves_https(catalog_url: str | None, tmp_path: Path) -> None:
    cert, key, context = tls_files(tmp_path)
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # accepted, as under uvicorn
    gw = Gateway(root=tmp_path / "gw", database_url=catalog_url, tls=(cert, key), http_server="granian")
    with running(gw):
        assert gw.url.startswith("https://") and _server_named(gw) == "granian"
        with httpx.Client(base_url=gw.url, verify=context, timeout=30) as client:
            r = client.post("/2.0/login/basic", data={"username": "sam", "password": "pw-sam-secret"})
            assert r.status_code == 200, r.text
            r = client.put(file_path("in", "t.bin"), files={"file": ("t.bin", b"tls" * 1000)})
            assert r.status_code == 201, r.text
            r = client.get(file_path("in", "t.bin"))
            assert r.status_code == 200 and r.content == b"tls" * 1000


def test_granian_sigterm_finishes_the_download_in_flight_and_exits_0(catalog_url: str | None, tmp_path: Path) -> None:
    assert CURL is not None
    data = os.urandom(8 * MiB)
    gw = Gateway(root=tmp_path / "gw", database_url=catalog_url, http_server="granian")
    with running(gw):
        curl = Curl(gw, tmp_path / "jar.txt")
        assert curl.login("alice").status == 200
        upload(curl, tmp_path, "inbox", "slow.bin", data)
        out = tmp_path / "slow.out"
        # About 2 s at this rate: the SIGTERM lands in the middle of the transfer.
        cmd = [CURL, "-s", "-b", str(curl.jar), "--limit-rate", "4M", "-o", str(out), "-w", "%{http_code}"]
        slow = subprocess.Popen([*cmd, gw.url + file_path("inbox", "slow.bin")], stdout=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not out.exists() or out.stat().st_size == 0:
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.02)
        assert gw.stop(timeout=40) == 0, gw.log()
        stdout, _ = slow.communicate(timeout=30)
    assert slow.returncode == 0 and stdout == b"200"
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert _server_named(gw) == "granian"
