"""Server-initiated notifications that are not tied to a request: list_changed broadcasts, resource updates.

Two sides (docs/architecture.md §3):

* A `NotificationHub` is where `Server` sends them. A Server may be served by several transports at once; each
  registers one (the connection hub below for stream transports in this process; the HTTP app's hub publishes
  a control event that reaches every instance).
* A `LocalHub` holds one transport's sessions on this instance. The HTTP app's control fan-out hands each
  control event, from whichever instance it came, to every local hub the app serves: its sessions with a stream
  held here (a GET stream or a WebSocket).
"""

from __future__ import annotations

from typing import Protocol

import attrs

from .._proto import types as t
from .._proto.session import INITIALIZING, READY
from .outbound import ChannelOutbound
from .state import ServerSession


class NotificationHub(Protocol):
    async def broadcast(self, method: str) -> None:
        """Send a parameterless notification (tools/resources/prompts list_changed) to every session."""
        ...

    async def resource_updated(self, uri: str) -> None:
        """Send `notifications/resources/updated` to the sessions subscribed to `uri`."""
        ...


class LocalHub(Protocol):
    """One transport's sessions on this instance, where control events land."""

    def notify_all(self, method: str) -> None:
        """Queue a parameterless notification for each session; never blocks (runs in the stream pump)."""
        ...

    async def resource_updated(self, uri: str) -> None:
        """Queue `notifications/resources/updated` for the sessions here subscribed to `uri`."""
        ...

    def forget(self, session_id: str) -> None:
        """Keep nothing more for the session: it was deleted, or an instance now holds its stream again."""
        ...


@attrs.define(eq=False)
class ConnectionHub:
    """Sessions of in-process stream transports (memory pair, stdio) living in this process: both a
    NotificationHub for the Server and a LocalHub for a fan-out."""

    _sessions: dict[ServerSession, ChannelOutbound] = attrs.field(
        factory=dict[ServerSession, ChannelOutbound]
    )

    def attach(self, session: ServerSession, outbound: ChannelOutbound) -> None:
        self._sessions[session] = outbound

    def detach(self, session: ServerSession) -> None:
        self._sessions.pop(session, None)

    def forget(self, session_id: str) -> None:
        return None  # a stream connection's session ends with its connection

    def notify_all(self, method: str) -> None:
        for session, outbound in list(self._sessions.items()):
            # L§Initialization: a session still in its handshake gets no list_changed (and must not stop the rest).
            if session.protocol.state in (INITIALIZING, READY):
                outbound.offer(session.protocol.send_notification(method, None))

    async def broadcast(self, method: str) -> None:
        self.notify_all(method)

    async def resource_updated(self, uri: str) -> None:
        params = t.ResourceUpdatedNotificationParams(uri=uri)
        for session, outbound in list(self._sessions.items()):
            if uri in session.subscriptions:
                outbound.offer(session.protocol.send_notification("notifications/resources/updated", params))
