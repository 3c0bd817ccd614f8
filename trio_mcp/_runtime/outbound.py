"""Where messages a handler emits go: the request's own stream, or nowhere (stateless)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import trio

from .._proto.jsonrpc import Message


class BackChannelUnavailable(Exception):
    """The client cannot receive server-to-client requests on this request (stateless HTTP, JSON mode)."""


class Outbound(Protocol):
    """Sends messages related to one client request (T§Sending.6: they go on that request's stream)."""

    @property
    def can_request(self) -> bool:
        """Whether a server-to-client request sent here can be answered."""
        ...

    async def send(self, message: Message) -> None: ...

    def close_stream(self, retry_ms: int | None) -> bool:
        """End the request's SSE stream now, after an event id and `retry:`, while the request runs on (the
        client resumes it with Last-Event-ID); False when this request has no stream to close."""
        ...


class ChannelOutbound:
    """Writes into a bounded memory channel that one task drains to the wire (SSE stream, stdio, memory pair)."""

    def __init__(
        self,
        channel: trio.MemorySendChannel[Message],
        *,
        can_request: bool = True,
        on_close_stream: Callable[[int | None], None] | None = None,
    ) -> None:
        self._channel = channel
        self._can_request = can_request
        self._on_close_stream = on_close_stream

    def close_stream(self, retry_ms: int | None) -> bool:
        if self._on_close_stream is None:
            return False
        self._on_close_stream(retry_ms)
        return True

    @property
    def can_request(self) -> bool:
        return self._can_request

    async def send(self, message: Message) -> None:
        try:
            await self._channel.send(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            # The reader is gone (client disconnected). A disconnect is not cancellation (T§Sending.6):
            # the handler keeps running and its messages are dropped.
            pass

    def offer(self, message: Message) -> bool:
        """Queue without waiting, for a publisher that must never block on a slow consumer: False (the
        message dropped for this consumer) when the buffer is full or the reader is gone."""
        try:
            self._channel.send_nowait(message)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True


class NoBackChannel:
    """Stateless requests: notifications are dropped, requests fail with a clear error."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    @property
    def can_request(self) -> bool:
        return False

    async def send(self, message: Message) -> None:
        return None

    def close_stream(self, retry_ms: int | None) -> bool:
        return False
