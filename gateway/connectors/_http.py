"""What the two HTTP-based connectors (``https`` and ``gateway``) share: the client, URL paths,
digest headers and the mapping of HTTP failures to :class:`~gateway.errors.RemoteError`.

Messages name the connection and the remote path, never a URL (a template may carry a token in
its query) nor a header value.
"""

from __future__ import annotations

import base64
import binascii
import logging
import ssl
from urllib.parse import quote

import httpx

from gateway.config.schema import TlsClient
from gateway.errors import RemoteError, RemoteNotFoundError

_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# httpx logs each request's full URL at INFO, and a configured URL may carry a token in its query.
logging.getLogger("httpx").setLevel(logging.WARNING)


def make_client(tls: TlsClient, timeout: float, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """An httpx client checking the peer against ``tls.ca_bundle`` (else the system's CAs), with
    the mTLS client certificate when configured. Redirects are not followed: a redirect to
    another host would carry the credentials along."""
    context = ssl.create_default_context(cafile=str(tls.ca_bundle) if tls.ca_bundle else None)
    if tls.client_cert is not None:
        context.load_cert_chain(str(tls.client_cert), str(tls.client_key) if tls.client_key else None)
    return httpx.AsyncClient(
        verify=context,
        timeout=httpx.Timeout(timeout),
        headers=headers,
        follow_redirects=False,
        trust_env=False,
    )


def url_path(segments: tuple[str, ...]) -> str:
    """Segments joined by ``/``, each percent-encoded (a ``/`` inside a name cannot occur)."""
    return "/".join(quote(part, safe="") for part in segments)


def digest_header(sha256: str) -> str:
    """An RFC 9530 ``sha-256=:<base64>:`` value for a hex SHA-256."""
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode('ascii')}:"


def sha256_from_digest(value: str | None) -> str | None:
    """The hex SHA-256 in a ``Repr-Digest``/``Content-Digest`` header, if it carries one."""
    if not value:
        return None
    for member in value.split(","):
        name, _, rest = member.strip().partition("=")
        if name.strip().lower() == "sha-256" and rest.startswith(":") and rest.endswith(":"):
            try:
                raw = base64.b64decode(rest[1:-1], validate=True)
            except (binascii.Error, ValueError):
                return None
            return raw.hex() if len(raw) == 32 else None
    return None


def content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


def status_error(what: str, doing: str, response: httpx.Response, detail: str = "") -> RemoteError:
    """The error for a non-success answer; 404 is "not found", 408/429/5xx may be retried."""
    status = response.status_code
    suffix = f": {detail}" if detail else ""
    if status == 404:
        return RemoteNotFoundError(f"{what}: {doing}: not found (HTTP 404){suffix}")
    if status in (401, 403):
        return RemoteError(f"{what}: {doing}: refused (HTTP {status}; check the credentials){suffix}", False)
    return RemoteError(f"{what}: {doing}: HTTP {status}{suffix}", retryable=status in _RETRYABLE_STATUS)


def network_error(what: str, doing: str, exc: httpx.HTTPError) -> RemoteError:
    """A transport failure (refused, reset, TLS, timeout): always worth another attempt, except a
    certificate the configured CAs do not vouch for."""
    if isinstance(exc, httpx.TimeoutException):
        return RemoteError(f"{what}: {doing}: timed out", retryable=True)
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return RemoteError(f"{what}: {doing}: the server's certificate is not trusted ({cause.reason})", False)
        cause = cause.__cause__ or cause.__context__
    return RemoteError(f"{what}: {doing}: connection failed ({type(exc).__name__})", retryable=True)
