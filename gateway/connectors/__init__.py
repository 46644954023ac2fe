"""Remote endpoints (``connections.yaml``): SFTP, HTTPS, S3-compatible storage, another gateway.

Every connector offers the one interface in :mod:`gateway.connectors.base`; a step asks
:func:`open_connector` for the connector of a configured connection and closes it when done::

    connector = open_connector(config.connections["partner-sftp"])
    try:
        for entry in await connector.list("outbox", "*.csv"):
            stream = await connector.open_read(entry.path)
            async for chunk in stream: ...
    finally:
        await connector.close()

Guarantees per protocol (atomic rename or not, what is checksummed) are in docs/connections.md.
"""

from __future__ import annotations

from gateway.config.schema import (
    Connection,
    HttpsConnection,
    PeerGatewayConnection,
    S3Connection,
    SftpConnection,
)
from gateway.connectors.base import Connector, RemoteEntry, RemoteStream, WriteResult

__all__ = ["Connector", "RemoteEntry", "RemoteStream", "WriteResult", "open_connector"]


def open_connector(connection: Connection) -> Connector:
    """The connector for ``connection``; it connects on first use and must be closed."""
    if isinstance(connection, SftpConnection):
        from gateway.connectors.sftp import SftpConnector

        return SftpConnector(connection)
    if isinstance(connection, HttpsConnection):
        from gateway.connectors.https import HttpsConnector

        return HttpsConnector(connection)
    if isinstance(connection, S3Connection):
        from gateway.connectors.s3 import S3Connector

        return S3Connector(connection)
    if isinstance(connection, PeerGatewayConnection):
        from gateway.connectors.peer import PeerGatewayConnector

        return PeerGatewayConnector(connection)
    raise TypeError(f"unknown connection type {type(connection).__name__}")
