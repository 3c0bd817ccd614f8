"""Server-initiated notifications that are not tied to a request: list_changed broadcasts, resource updates.

A Server may be served by several transports at once; each registers a hub that knows how to reach its sessions
(the connection hub below for stream transports; the HTTP app's hub goes through the store and stream manager).
"""

from __future__ import annotations

from typing import Any, Protocol

import attrs
import trio

from .._proto import types as t
from .._proto.jsonrpc import Message
from .._proto.session import INITIALIZING, READY
from .state import ServerSession


class NotificationHub(Protocol):
    async def broadcast(self, method: str) -> None:
        """Send a parameterless notification (tools/resources/prompts list_changed) to every session."""
        ...

    async def resource_updated(self, uri: str) -> None:
        """Send `notifications/resources/updated` to the sessions subscribed to `uri`."""
        ...


@attrs.define(eq=False)
class ConnectionHub:
    """Sessions of stream transports (memory pair, stdio, WebSocket) living in this process."""

    _sessions: dict[ServerSession, trio.MemorySendChannel[Message]] = attrs.field(
        factory=dict[ServerSession, trio.MemorySendChannel[Message]]
    )

    def attach(self, session: ServerSession, channel: trio.MemorySendChannel[Message]) -> None:
        self._sessions[session] = channel

    def detach(self, session: ServerSession) -> None:
        self._sessions.pop(session, None)

    async def broadcast(self, method: str) -> None:
        for session, channel in list(self._sessions.items()):
            # L§Initialization: a session still in its handshake gets no list_changed (and must not stop the rest).
            if session.protocol.state in (INITIALIZING, READY):
                _offer(channel, session.protocol.send_notification(method, None))

    async def resource_updated(self, uri: str) -> None:
        params = t.ResourceUpdatedNotificationParams(uri=uri)
        for session, channel in list(self._sessions.items()):
            if uri in session.subscriptions:
                _offer(channel, session.protocol.send_notification("notifications/resources/updated", params))


def _offer(channel: trio.MemorySendChannel[Any], message: Message) -> None:
    # Never block the publisher on a slow consumer: a full buffer drops this notification for that session.
    try:
        channel.send_nowait(message)
    except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
        pass
