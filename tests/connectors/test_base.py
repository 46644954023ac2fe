"""The shared pieces of the connectors: path confinement, listing filter, verification, error mapping."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.connectors._http import digest_header, network_error, sha256_from_digest, upload_failure
from gateway.connectors.base import Tally, checked, file_segments, listable, split_path, temp_name
from gateway.errors import IntegrityError, InvalidPathError, RemoteError

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("path", "segments"),
    [("", ()), ("/", ()), ("a/b.txt", ("a", "b.txt")), ("/a/b/", ("a", "b")), ("Cafe\u0301", ("Café",))],
)
def test_split_path_gives_validated_root_relative_segments(path: str, segments: tuple[str, ...]) -> None:
    assert split_path(path) == segments


@pytest.mark.parametrize("path", ["..", "a/../b", "a//b", "./a", "a\\b", "a/\x00", "x/con", "a/b."])
def test_split_path_refuses_what_could_leave_the_root_or_is_no_valid_name(path: str) -> None:
    with pytest.raises(InvalidPathError):
        split_path(path)


def test_file_segments_needs_a_name() -> None:
    with pytest.raises(InvalidPathError):
        file_segments("/")


def test_listable_filters_glob_temporary_and_invalid_names() -> None:
    assert listable("a.csv", "*.csv") and not listable("a.CSV", "*.csv")
    assert not listable(temp_name("a.csv", "ab" * 32, "t"), "*")
    assert not listable("bad\\name", "*") and not listable("..", "*") and not listable("trailing.", "*")
    assert temp_name("a.csv", "AB" * 32, "t") == temp_name("a.csv", "AB" * 32, "u")  # a retry reuses it


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_checked_raises_instead_of_ending_on_a_mismatch() -> None:
    good = hashlib.sha256(b"abcdef").hexdigest()
    tally = Tally()
    assert [c async for c in checked(_chunks(b"abc", b"", b"def"), tally, "t", 6, good)] == [b"abc", b"def"]
    assert (tally.size, tally.sha256) == (6, good)
    seen: list[bytes] = []
    with pytest.raises(IntegrityError, match="SHA-256"):
        async for chunk in checked(_chunks(b"abc", b"deX"), Tally(), "t", 6, good):
            seen.append(chunk)
    assert seen == [b"abc", b"deX"]  # every byte went by; the error comes before the end
    with pytest.raises(IntegrityError, match="more bytes than the announced 4"):
        async for _ in checked(_chunks(b"abc", b"def"), Tally(), "t", 4, None):
            pass


def test_digest_headers_round_trip_and_junk_is_ignored() -> None:
    sha = hashlib.sha256(b"x").hexdigest()
    assert sha256_from_digest(digest_header(sha)) == sha
    assert sha256_from_digest(f"md5=:AAAA:, {digest_header(sha)}") == sha
    assert sha256_from_digest("sha-256=:not base64!:") is None and sha256_from_digest(None) is None


def test_network_errors_tls_is_final_a_reset_is_retryable() -> None:
    alert = ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] alert")
    alert.reason = "TLSV13_ALERT_CERTIFICATE_REQUIRED"
    refused = upload_failure("c", "uploading 'x'", alert)  # as httpx lets it through while sending a body
    assert isinstance(refused, RemoteError) and "TLS failed (TLSV13_ALERT_CERTIFICATE_REQUIRED)" in refused.message
    assert refused.retryable is False
    reset = network_error("c", "d", httpx.ReadError("reset"))
    assert reset.retryable is True and "connection failed (ReadError)" in reset.message
    assert network_error("c", "d", httpx.ReadTimeout("slow")).retryable is True
    bug = ValueError("a bug")
    assert upload_failure("c", "d", bug) is bug
