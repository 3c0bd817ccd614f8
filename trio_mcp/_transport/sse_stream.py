"""The SSE side of a Streamable HTTP response: one writer task frames and sends events; a watcher notices a gone client."""

from __future__ import annotations

import math
from typing import Any, Protocol

import trio

from .._proto import sse
from .._proto.jsonrpc import ErrorResponse, Message, RequestId, Response, dumps, message_to_obj
from .._streams.events import StoredEvent
from .asgi import Receive, Send
from .recorder import StreamRecorder


async def watch_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    # hypercorn silently drops sends to a gone client: only receive() tells us it left.
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


# A writer that holds its response's head sends it with the first body: a quick answer is then one body with a
# Content-Length (head and body in two socket writes, no chunk framing). A handler still running this long after
# the stream opened gets the head (and the priming event) on its own, so the client knows the stream is live.
HEAD_WITHIN = 0.05

# The largest body a close() sends unrecorded when nothing went out before: within the smallest TCP segment
# (536 bytes of IPv4's minimum MSS) with room for the HTTP chunk framing.
WHOLE_IN_ONE_SEGMENT = 500


class SSEWriter:
    """Frames messages as SSE events with ids `<stream>:<seq>`; the single writer of one response.

    Events are buffered and sent together when nothing else is ready, and the last one goes out with the end
    of the body: a quick tools/call costs one body send, not one per event (each is a socket write). With a
    recorder, the events of each send are recorded right after it (one event-store round trip per send; the
    stream's last body is recorded before it goes), so a client can resume the stream anywhere from any id it
    received.
    """

    __slots__ = (
        "_close_retry",
        "_entries",
        "_head",
        "_open",
        "_pending",
        "_recorder",
        "_send",
        "_sent",
        "_seq",
        "_stream",
        "_wait",
    )

    def __init__(
        self,
        send: Send,
        stream_id: str,
        recorder: StreamRecorder | None = None,
        *,
        head: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """`head`: the response's headers, sent by this writer with its first body (HEAD_WITHIN); without it,
        the caller has sent `http.response.start` already."""
        self._send = send
        self._head = head
        self._stream = stream_id
        self._recorder = recorder
        self._seq = 0
        self._open = True
        self._pending = bytearray()
        self._entries: list[StoredEvent] = []
        self._close_retry: int | None = None
        self._sent = False  # some of the body went out before close()
        self._wait: trio.CancelScope | None = None

    @property
    def stream_id(self) -> str:
        return self._stream

    def _next_id(self) -> str:
        self._seq += 1
        return sse.make_event_id(self._stream, self._seq)

    def prime(self, payload: bytes = b"", *, visible: bool = True) -> None:
        """The priming event (T§Sending.6: an id and empty data); `payload` is recorded, never sent.
        `visible=False`: only recorded (a client of a version without priming events)."""
        event_id = self._next_id()
        if visible and self._open:
            self._pending += sse.encode_event(b"", id=event_id)
        if self._recorder is not None:
            self._entries.append(StoredEvent(seq=self._seq, kind="prime", payload=payload))

    def message(self, message: Message | bytes) -> None:
        data = message if isinstance(message, bytes) else dumps(message_to_obj(message))
        event_id = self._next_id()
        if self._open:
            self._pending += sse.encode_event(data, id=event_id, event="message")
        if self._recorder is not None:
            self._entries.append(StoredEvent(seq=self._seq, kind="message", payload=data))

    def continue_after(self, seq: int) -> None:
        """This stream goes on from `seq`, the last id of its log (a resumed standalone stream)."""
        self._seq = seq

    def replayed(self, event: StoredEvent) -> None:
        """An event recorded earlier (by any instance), sent again under its own id (T§Resumability)."""
        self._seq = max(self._seq, event.seq)  # never back below the log's last id (continue_after)
        self._pending += sse.encode_event(
            event.payload, id=sse.make_event_id(self._stream, event.seq), event="message"
        )

    async def _record(self, *, ended: bool = False) -> None:
        if self._recorder is None or not (ended or self._entries):
            return
        if ended:
            self._seq += 1
            self._entries.append(StoredEvent(seq=self._seq, kind="end"))
        entries, self._entries = self._entries, []
        await self._recorder.record(entries)

    def keepalive(self) -> None:
        self._pending += sse.encode_comment("keepalive")

    def retry(self, milliseconds: int) -> None:
        self._pending += sse.encode_event(None, retry_ms=milliseconds)

    def request_close(self, retry_ms: int) -> None:
        """End the response soon (SSE polling, a drain), after an id and `retry:`; a recorded stream goes on
        in its log (only a stream whose log is complete so far: else this does nothing). Called from another
        task: the writer does it at its next turn."""
        if self._resumable() and self._open and self._close_retry is None:
            self._close_retry = retry_ms
            if self._wait is not None:
                self._wait.cancel()

    def _resumable(self) -> bool:
        """Whether the client could resume this stream elsewhere: its log is complete so far. A stream whose
        recording failed stays open to its end (closed early, its client would miss what was not recorded)."""
        return self._recorder is not None and not self._recorder.failed

    async def _detach(self, retry_ms: int) -> None:
        # T§Resumability: the server may close the stream after an event id; `retry:` says when to come back.
        self.retry(retry_ms)
        await self._record()
        body = bytes(self._pending)
        self._pending.clear()
        self._open = False
        await self._body(body, more=False)

    async def _body(self, body: bytes, *, more: bool) -> None:
        if self._head is not None:
            headers = self._head
            if not more:  # the whole response in one body: no chunked framing (RFC 9112 §6.3)
                headers = [*headers, (b"content-length", b"%d" % len(body))]
            self._head = None  # never sent twice, even when this send is cut
            await self._send({"type": "http.response.start", "status": 200, "headers": headers})
        await self._send({"type": "http.response.body", "body": body, "more_body": more})

    async def flush(self) -> None:
        # Sent first, then recorded: the client gets an event one event-store round trip sooner. A client can
        # then hold ids its log lacks (this instance stopped in between); resuming from one goes on after it
        # (EventStore.after), and those events had reached it. Only the first record comes first: before it
        # there is no log, and a client resuming at once would be told the stream is unknown. The bytes leave
        # the buffer only once send() returned: a send cut by cancellation keeps them (and their entries) for
        # close(), so an event is never skipped silently (hypercorn writes a body whole or not at all).
        if self._entries and self._recorder is not None and not self._recorder.started:
            await self._record()
        if (self._pending or self._head is not None) and self._open:
            body = bytes(self._pending)
            await self._body(body, more=True)
            self._sent = True
            del self._pending[: len(body)]
        if self._entries:
            await self._record()

    async def drain(
        self,
        source: MessageSource,
        keepalive: float,
        awaiting: set[RequestId] | None = None,
        *,
        poll_after: float | None = None,
        poll_retry_ms: int = 1000,
    ) -> None:
        """Write what arrives until the source ends, or until every id in `awaiting` has its response.

        Only the wait for the next message is under the keep-alive deadline, never a send: a deadline that
        fired mid-send would cut an event out of the stream. `poll_after`: a recorded stream open that long
        is closed (SSE polling) with `retry:` `poll_retry_ms`, and drained on into its log.
        """
        interval = keepalive if keepalive > 0 else math.inf
        close_at = math.inf if poll_after is None else trio.current_time() + poll_after
        head_by = trio.current_time() + HEAD_WITHIN if self._head is not None else math.inf
        while True:
            if self._close_retry is not None and self._open:
                await self._detach(self._close_retry)
            now = trio.current_time()
            deadline = now + interval if self._open else math.inf
            if self._open and self._resumable():
                deadline = min(deadline, close_at)
            if self._head is not None:
                deadline = min(deadline, head_by)
            message: Message | bytes | None = None
            with trio.CancelScope(deadline=deadline) as self._wait:
                try:
                    message = await source.receive()
                except trio.EndOfChannel:
                    return
            self._wait = None
            if message is None:
                if self._head is not None and self._open:
                    await self.flush()  # HEAD_WITHIN: the head and what is buffered, no keep-alive yet
                    continue
                if self._close_retry is None and trio.current_time() >= close_at:
                    self.request_close(poll_retry_ms)
                if self._close_retry is None:
                    self.keepalive()
                    await self.flush()
                continue
            self.message(message)
            if awaiting is not None and isinstance(message, Response | ErrorResponse):
                awaiting.discard(message.id)  # pyright: ignore[reportArgumentType]
                if not awaiting:
                    return  # the caller's close() sends this last event with the end of the body
            if not _ready(source):
                await self.flush()

    async def close(self, *, ended: bool = False) -> None:
        """End the response; `ended`: the stream is complete (every response sent), which its log records
        (also when the response was already closed early: the log then ends here)."""
        if ended and not self._sent and self._open and len(self._pending) <= WHOLE_IN_ONE_SEGMENT:
            # The whole stream goes out in one small write, one TCP segment: its client gets every event or
            # none, and without an id it has nothing to resume, so a log would never be read. (A quick call:
            # priming event and response together; this saves it the event store's round trip.)
            self._entries.clear()
        else:
            await self._record(ended=ended)
        self._recorder = None  # the log is complete: nothing more is recorded
        if self._open:
            self._open = False
            body = bytes(self._pending)
            self._pending.clear()
            await self._body(body, more=False)


class MessageSource(Protocol):
    """What a stream's writer drains: a memory channel of one POST's messages, or a held stream's buffer."""

    async def receive(self) -> Message | bytes: ...

    def statistics(self) -> Any: ...


def _ready(source: MessageSource) -> bool:
    return source.statistics().current_buffer_used > 0
