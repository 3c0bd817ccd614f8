"""Protocol errors, in pairs as h11 does: the peer misbehaved (Remote) or we did (Local).

Each carries the JSON-RPC error code that the boundary of its layer turns into an error response.
"""

from __future__ import annotations

from typing import Any

# JSON-RPC 2.0 §5.1 and MCP schema.ts error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# MCP implementation-specific range.
SESSION_NOT_FOUND = -32001
RESOURCE_NOT_FOUND = -32002
REQUEST_TIMEOUT = -32003
REQUEST_CANCELLED = -32004
# A request over a socket (no HTTP 403 to send) whose token lacks a scope it needs; data: the RFC 6750 challenge.
INSUFFICIENT_SCOPE = -32005
URL_ELICITATION_REQUIRED = -32042


class ProtocolError(Exception):
    """Base: an error that maps onto a JSON-RPC error object."""

    code: int
    message: str
    data: Any

    def __init__(self, message: str, *, code: int = INVALID_REQUEST, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.data = data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r})"


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""


class LocalProtocolError(ProtocolError):
    """We were asked to send something the protocol does not allow (a bug in the caller)."""


class McpError(Exception):
    """A JSON-RPC error a handler raises on purpose, or one the peer answered with.

    Raising it from a handler sends exactly this error to the peer; the client raises it when a server answers
    a request with an error.
    """

    def __init__(self, code: int, message: str, data: Any = None, *, http_status: int | None = None) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message
        self.data = data
        #: the HTTP status of the answer that carried the error, when HTTP said it (a client's view)
        self.http_status = http_status

    @property
    def retryable(self) -> bool:
        """The server says the request may be sent again (`data.retryable`: its instance stopped before
        answering)."""
        return isinstance(self.data, dict) and self.data.get("retryable") is True  # pyright: ignore[reportUnknownMemberType]
