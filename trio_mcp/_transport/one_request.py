"""The SSE answer to a POST holding one request, run in the request's own task (docs/architecture.md §4).

A batch's requests each run in a task of their own, feeding one writer task through a memory channel
(answers.py). One request needs neither while it is quick: its handler runs in the request's task and what it
sends is written as it comes. Only a handler still running when its stream needs watching (HEAD_WITHIN, to
send the head and the priming event; or a close asked for) gets a writer task and a channel, as a batch's
stream has: from then on the writer sends the keep-alives, and closes the stream for SSE polling or a drain.
"""

from __future__ import annotations

import trio

from .._proto.jsonrpc import Message, RequestId
from .sse_stream import HEAD_WITHIN, SSEWriter


class OneRequest:
    """The request's Outbound (`_runtime/outbound.py`): direct to the writer until `promote`, then a channel."""

    __slots__ = (
        "_buffer",
        "_closable",
        "_done",
        "_idle",
        "_keepalive",
        "_nursery",
        "_opened_at",
        "_poll_after",
        "_promote_asked",
        "_receive",
        "_retry_ms",
        "_send",
        "_writing",
        "awaiting",
        "writer",
    )

    def __init__(
        self,
        writer: SSEWriter,
        request_id: RequestId,
        *,
        buffer: int,
        closable: bool,
        keepalive: float,
        poll_after: float | None,
        retry_ms: int,
    ) -> None:
        self.writer = writer
        self.awaiting: set[RequestId] = {request_id}
        self._nursery: trio.Nursery | None = None  # the request's: where a writer task goes (promote)
        self._promote_asked = False
        self._buffer = buffer
        self._keepalive = keepalive
        self._closable = closable  # SSE polling and a drain need the stream's log: only a recorded stream
        self._poll_after = poll_after
        self._retry_ms = retry_ms
        self._send: trio.MemorySendChannel[Message] | None = None
        self._receive: trio.MemoryReceiveChannel[Message] | None = None
        self._writing = False  # a direct write is under way
        self._idle: trio.Event | None = None
        self._done = False
        self._opened_at = trio.current_time()  # SSE polling counts from here, not from the promotion

    @property
    def can_request(self) -> bool:
        return True

    async def send(self, message: Message) -> None:
        if self._send is not None:
            try:
                await self._send.send(message)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # T§Sending.6: a disconnect is not cancellation; the handler runs on, its messages dropped
            return
        self.writer.message(message)
        self._writing = True
        try:
            await self.writer.flush()
        finally:
            self._writing = False
            if self._idle is not None:
                self._idle.set()

    def close_stream(self, retry_ms: int | None) -> bool:
        if not self._closable:
            return False
        self.writer.request_close(self._retry_ms if retry_ms is None else retry_ms)
        self.promote()  # the writer task does it at its first turn
        return True

    @property
    def watch_at(self) -> float:
        """When a handler still running needs a writer task: HEAD_WITHIN, or sooner for SSE polling."""
        within = HEAD_WITHIN if self._poll_after is None else min(HEAD_WITHIN, self._poll_after)
        return self._opened_at + within

    def opened(self, nursery: trio.Nursery) -> None:
        """The request's nursery, before the handler runs."""
        self._nursery = nursery
        if self._promote_asked:
            self.promote()

    def close_soon(self) -> None:
        """The drain's call: end the stream after its last id, with `retry:`."""
        self.close_stream(None)

    def promote(self) -> None:
        """From now on a writer task sends (HEAD_WITHIN passed, or a close was asked for)."""
        if self._send is not None or self._done:
            return
        if self._nursery is None:  # a drain began before the handler: the writer starts with it (opened)
            self._promote_asked = True
            return
        self._send, self._receive = trio.open_memory_channel[Message](self._buffer)
        self._nursery.start_soon(self._write, self._receive)

    async def _write(self, receive: trio.MemoryReceiveChannel[Message]) -> None:
        while self._writing:  # the handler's own write goes first: one writer at a time
            self._idle = trio.Event()
            await self._idle.wait()
        self._idle = None
        await self.writer.flush()  # the head and the priming event, if they had not gone
        poll_after = None
        if self._poll_after is not None:
            poll_after = max(0.0, self._poll_after - (trio.current_time() - self._opened_at))
        await self.writer.drain(
            receive, self._keepalive, self.awaiting, poll_after=poll_after, poll_retry_ms=self._retry_ms
        )

    async def finish(self, reply: Message | None) -> None:
        """The handler returned: its response goes with the end of the body (close), after what it sent.
        None (U§Cancellation: a cancelled request gets no response): the stream just ends."""
        self._done = True
        if self._send is None:
            if reply is not None:
                self.writer.message(reply)
                self.awaiting.clear()
            return
        if reply is not None:
            await self.send(reply)
        await self._send.aclose()  # the writer task's drain ends with the channel

    @property
    def receive(self) -> trio.MemoryReceiveChannel[Message] | None:
        """What the handler sent that the writer task may not have written (None: it wrote everything)."""
        return self._receive

    def close(self) -> None:
        self._done = True
        if self._send is not None:
            self._send.close()
        if self._receive is not None:
            self._receive.close()
