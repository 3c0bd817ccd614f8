"""WebSocket constants both sides share (the SEP-1288 draft): the subprotocol and the close codes.

The close codes say what to change (docs/architecture.md §8); 4xxx are this server's own, after HTTP's
statuses of the same meaning.
"""

from __future__ import annotations

from enum import IntEnum

SUBPROTOCOL = "mcp"
# RFC 6455 §5.5: a control frame's payload is at most 125 bytes, two of them the close code.
MAX_REASON = 123


class Close(IntEnum):
    NORMAL = 1000
    PROTOCOL_ERROR = 1002  # no `mcp` subprotocol, an unsupported MCP-Protocol-Version
    UNSUPPORTED_DATA = 1003  # a binary frame
    POLICY = 1008  # Host/Origin refused
    TOO_BIG = 1009  # a message over max_body_size
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012  # this instance is draining or stopping: reconnect (through the load balancer)
    # not started, the session cap reached, a backend unreachable, a client that does not read its messages
    TRY_AGAIN_LATER = 1013
    STATELESS = 4405  # a stateless server has no sessions to hold a WebSocket
    PING_TIMEOUT = 4408  # the keep-alive ping got no answer
    SESSION_NOT_FOUND = 4404  # unknown, expired or deleted session (HTTP's 404)
    SUPERSEDED = 4409  # a newer WebSocket or GET stream took the session's stream


def fit_reason(reason: str) -> str:
    """At most MAX_REASON bytes of UTF-8, cut on a character boundary."""
    data = reason.encode()
    if len(data) <= MAX_REASON:
        return reason
    return data[: MAX_REASON - 3].decode(errors="ignore") + "..."
