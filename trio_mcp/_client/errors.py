"""The client's transport failure: one plain exception, never an exception group from its tasks."""

from __future__ import annotations


class TransportError(ConnectionError):
    """The server could not be reached (for `reconnect_timeout`), or a stream to it broke for good.

    A JSON-RPC error the server answered is an `McpError` instead (with `http_status` when HTTP said it).
    """
