"""The StreamManager interface: how messages for a session reach the instance that holds its stream.

One pump per instance feeds a bounded channel per locally held stream; control events (broadcasts, session
deletion, forwarded replies) go to the app's StreamEvents callbacks, which must not block.
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

import trio

ROUTE_TTL = 300.0  # mcp:route:{sid}:{request_id} lives 5 minutes (DESIGN.md §3)
DEFAULT_HEARTBEAT = 10.0


class StreamUnavailable(Exception):
    """The stream backend (Redis) cannot be reached right now; the HTTP app answers 503, like StoreUnavailable."""


class StreamEvents(Protocol):
    """What an instance does with control events; called from the pump task, so never block."""

    def on_broadcast(self, event: dict[str, Any]) -> None:
        """A server-wide event: {"kind": "list_changed", "method": ...} or {"kind": "resource_updated", "uri": ...}."""
        ...

    def on_session_deleted(self, session_id: str) -> None: ...

    def on_reply(self, session_id: str, payload: bytes) -> None:
        """A client's reply to a server-to-client request that a handler on this instance is waiting for."""
        ...


@runtime_checkable
class StreamManager(Protocol):
    instance_id: str

    async def run(
        self, events: StreamEvents, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """The instance's pump and heartbeat; runs in the app nursery until cancelled."""
        ...

    def subscribe(
        self, session_id: str, capacity: int
    ) -> AbstractAsyncContextManager[trio.MemoryReceiveChannel[bytes]]:
        """Receive the messages published for `session_id` while held; the channel ends if the client lags."""
        ...

    def deliver_local(self, session_id: str, payload: bytes) -> bool:
        """Push into the stream held on this instance, if any (no network); False when not held here."""
        ...

    async def publish(self, session_id: str, payload: bytes) -> None:
        """Send one encoded JSON-RPC message to the session's stream, wherever it is held (dropped if nowhere)."""
        ...

    async def broadcast(self, event: dict[str, Any]) -> None: ...

    async def session_deleted(self, session_id: str) -> None: ...

    async def set_route(self, session_id: str, request_id: str | int) -> None:
        """Remember that this instance waits for the reply to `request_id` (TTL 5 min)."""
        ...

    async def forward_reply(self, session_id: str, request_id: str | int, payload: bytes) -> bool:
        """Send a reply to the instance waiting for it; False when no instance is known to wait."""
        ...

    async def holder(self, session_id: str) -> str | None:
        """The live instance holding the session's stream, or None (never held, or its holder died)."""
        ...

    async def aclose(self) -> None: ...


def encode_event(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def decode_event(data: bytes | str) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None  # pyright: ignore[reportUnknownVariableType]


def offer(streams: dict[str, trio.MemorySendChannel[bytes]], session_id: str, payload: bytes) -> bool:
    """Non-blocking push into a held stream's bounded channel.

    A full channel means a slow client: its stream is dropped (closed; it may reconnect), so the publisher never
    waits and memory never grows.
    """
    channel = streams.get(session_id)
    if channel is None:
        return False
    try:
        channel.send_nowait(payload)
        return True
    except trio.WouldBlock:
        channel.close()
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    streams.pop(session_id, None)
    return False
