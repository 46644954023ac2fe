"""The gateway's one exception tree.

Every failure the core, storage or catalog can report is one of these classes; the HTTP
front-end maps them to the wire in one table (``gateway/http/exception_handlers.py``)::

    GatewayError                      error_type
    ├─ RequestSyntaxError             request_syntax   400
    │  ├─ NoFilenameError             request_syntax   400  No filename specified
    │  ├─ InvalidPathError            request_syntax   400
    │  └─ InvalidParameterError       request_syntax   400  names the parameter
    ├─ AuthenticationError            authentication   401  Invalid username or password
    │  └─ AgreementEndedError         authentication   410  the account's actor is past valid_until
    ├─ ConfigurationError             configuration    500  (startup: names file and key)
    │  └─ ContractNotConfiguredError  configuration    401  Connection contract not configured
    ├─ AuthorizationError             authorization    403  No <x> permission
    ├─ IoError                        io               500  generic text; OS detail only in logs
    │  ├─ NotFoundError               io               404  Path '<p>' doesn't exist
    │  └─ RemoteError                 io               (connectors: a remote endpoint failed)
    │     ├─ RemoteNotFoundError      io               the remote file or folder does not exist
    │     ├─ HostKeyError             io               SFTP host key unknown or changed (never retried)
    │     └─ IntegrityError           io               size or SHA-256 differs from what was announced
    ├─ LimitExceededError             limit            413
    ├─ QuotaExceededError             quota            507
    ├─ RateLimitedError               rate_limit       429
    │  └─ BusyError                   rate_limit       429  task concurrency or run cap reached
    └─ UnavailableError               server           503

Anything else that escapes is a bug and becomes a ``server`` 500 without a traceback.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every domain error; ``message`` is safe to show to a partner."""

    error_type = "server"
    default_message = "Internal server error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(self.message)


class RequestSyntaxError(GatewayError):
    error_type = "request_syntax"
    default_message = "Missing parameters or syntax error"


class NoFilenameError(RequestSyntaxError):
    default_message = "No filename specified"


class InvalidPathError(RequestSyntaxError):
    default_message = "Invalid path"


class InvalidParameterError(RequestSyntaxError):
    """A query parameter has a value outside its domain; the message names the parameter."""

    def __init__(self, parameter: str, detail: str) -> None:
        self.parameter = parameter
        super().__init__(f"Invalid parameter '{parameter}': {detail}")


class AuthenticationError(GatewayError):
    error_type = "authentication"
    default_message = "Invalid username or password"


class AgreementEndedError(AuthenticationError):
    """The credential is good but its actor's agreement (``valid_until``) has ended: 410."""

    default_message = "The agreement of this account has ended"


class ConfigurationError(GatewayError):
    """Configuration is invalid; raised at load time with the file and key in the message."""

    error_type = "configuration"
    default_message = "Configuration error"


class ContractNotConfiguredError(ConfigurationError):
    default_message = "Connection contract not configured"


class AuthorizationError(GatewayError):
    error_type = "authorization"
    default_message = "Permission denied"


class IoError(GatewayError):
    error_type = "io"
    default_message = "I/O error"


class NotFoundError(IoError):
    default_message = "Path doesn't exist"


class RemoteError(IoError):
    """A remote endpoint (``gateway.connectors``) failed; the message names the connection, never a secret.

    ``retryable`` tells a step runner whether another attempt may succeed (a dropped connection, a
    timeout, a 5xx answer) or not (refused credentials, an unknown host key, a missing file).
    """

    default_message = "Remote endpoint error"

    def __init__(self, message: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class RemoteNotFoundError(RemoteError):
    default_message = "Remote path does not exist"


class HostKeyError(RemoteError):
    default_message = "The remote host key is not a pinned one"


class IntegrityError(RemoteError):
    default_message = "Transferred bytes differ from the announced size or SHA-256"


class LimitExceededError(GatewayError):
    error_type = "limit"
    default_message = "Request exceeds a configured limit"


class QuotaExceededError(GatewayError):
    error_type = "quota"
    default_message = "Storage quota exceeded"


class RateLimitedError(GatewayError):
    """Too many requests, or a banned client; ``retry_after`` (whole seconds) becomes ``Retry-After``."""

    error_type = "rate_limit"
    default_message = "Too many requests"

    def __init__(self, message: str | None = None, retry_after: int | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class BusyError(RateLimitedError):
    """A task already runs as often as its ``concurrency`` (or the cluster its run cap) allows."""

    default_message = "The task is busy"


class UnavailableError(GatewayError):
    error_type = "server"
    default_message = "Service unavailable"
