"""The SSE side of a Streamable HTTP response: one writer task frames and sends events; a watcher notices a gone client."""

from __future__ import annotations

import math
from typing import Any, Protocol

import trio

from .._proto import sse
from .._proto.jsonrpc import ErrorResponse, Message, RequestId, Response, dumps, message_to_obj
from .asgi import Receive, Send


async def watch_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    # hypercorn silently drops sends to a gone client: only receive() tells us it left.
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


class SSEWriter:
    """Frames messages as SSE events with ids `<stream>:<seq>`; the single writer of one response.

    Events are buffered and sent together when nothing else is ready, and the last one goes out with the end
    of the body: a quick tools/call costs one body send, not one per event (each is a socket write).
    """

    __slots__ = ("_open", "_pending", "_send", "_seq", "_stream")

    def __init__(self, send: Send, stream_id: str) -> None:
        self._send = send
        self._stream = stream_id
        self._seq = 0
        self._open = True
        self._pending = bytearray()

    def _next_id(self) -> str:
        self._seq += 1
        return sse.make_event_id(self._stream, self._seq)

    def prime(self) -> None:
        self._pending += sse.encode_event(b"", id=self._next_id())

    def message(self, message: Message | bytes) -> None:
        data = message if isinstance(message, bytes) else dumps(message_to_obj(message))
        self._pending += sse.encode_event(data, id=self._next_id(), event="message")

    def retry(self, milliseconds: int) -> None:
        self._pending += sse.encode_event(None, retry_ms=milliseconds)

    async def flush(self) -> None:
        # The bytes leave the buffer only once send() returned: a send cut by cancellation keeps them for
        # close(), so an event is never skipped silently (hypercorn writes a body whole or not at all).
        if self._pending and self._open:
            body = bytes(self._pending)
            await self._send({"type": "http.response.body", "body": body, "more_body": True})
            del self._pending[: len(body)]

    async def drain(
        self, source: MessageSource, keepalive: float, awaiting: set[RequestId] | None = None
    ) -> None:
        """Write what arrives until the source ends, or until every id in `awaiting` has its response.

        Only the wait for the next message is under the keep-alive deadline, never a send: a deadline that
        fired mid-send would cut an event out of the stream.
        """
        interval = keepalive if keepalive > 0 else math.inf
        while True:
            message: Message | bytes | None = None
            with trio.move_on_after(interval):
                try:
                    message = await source.receive()
                except trio.EndOfChannel:
                    return
            if message is None:
                self._pending += sse.encode_comment("keepalive")
                await self.flush()
                continue
            self.message(message)
            if awaiting is not None and isinstance(message, Response | ErrorResponse):
                awaiting.discard(message.id)  # pyright: ignore[reportArgumentType]
                if not awaiting:
                    return  # the caller's close() sends this last event with the end of the body
            if not _ready(source):
                await self.flush()

    async def close(self) -> None:
        if self._open:
            self._open = False
            body = bytes(self._pending)
            self._pending.clear()
            await self._send({"type": "http.response.body", "body": body, "more_body": False})


class MessageSource(Protocol):
    """What a stream's writer drains: a memory channel of one POST's messages, or a held stream's buffer."""

    async def receive(self) -> Message | bytes: ...

    def statistics(self) -> Any: ...


def _ready(source: MessageSource) -> bool:
    return source.statistics().current_buffer_used > 0
