"""ServerSession: what this instance knows about one MCP session while it serves it."""

from __future__ import annotations

from typing import Any

import attrs
import trio

from .._proto.jsonrpc import RequestId
from .._proto.session import ProtocolSession, Role
from .peer import Peer


@attrs.define(eq=False)
class ServerSession:
    """Protocol state (rebuildable from the session record) plus this instance's in-flight work."""

    session_id: str | None
    protocol: ProtocolSession
    peer: Peer
    principal: str | None = None
    # The OAuth client beside the principal, and the transport the session was created on ("http" |
    # "websocket"): kept in the record for the session admin API.
    client_id: str | None = None
    transport: str = "http"
    subscriptions: set[str] = attrs.field(factory=set[str])
    # A request's CancelScope under its JSON-RPC id, so `notifications/cancelled` cancels exactly that one.
    in_flight: dict[RequestId, trio.CancelScope] = attrs.field(factory=dict[RequestId, trio.CancelScope])
    # The session record's bookkeeping, kept by the transport that stores it (see SessionManager.save): when
    # the record was created, and the status last read or written (None: never stored).
    created_at: float | None = None
    stored_status: str | None = None
    # Free-form per-session data a server author may keep (this instance only; not persisted).
    extra: dict[str, Any] = attrs.field(factory=dict[str, Any])

    @classmethod
    def new(
        cls, session_id: str | None, *, id_prefix: str = "", reply_timeout: float = 300.0, **protocol: Any
    ) -> ServerSession:
        proto = ProtocolSession(Role.SERVER, id_prefix=id_prefix, **protocol)
        return cls(session_id=session_id, protocol=proto, peer=Peer(proto, default_timeout=reply_timeout))
