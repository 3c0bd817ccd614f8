"""The StreamManager interface: how messages for a session reach the instance that holds its stream.

One pump per instance feeds a bounded channel per locally held stream; control events (broadcasts, session
deletion, forwarded replies) go to the app's StreamEvents callbacks, which must not block.
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

import attrs
import trio

from .control import ControlEvent

ROUTE_TTL = 300.0  # mcp:route:{sid}:{request_id} lives 5 minutes
DEFAULT_HEARTBEAT = 10.0
# How long a held stream's buffer may stay full before its client counts as lagging and the stream is dropped.
DEFAULT_SLOW_STREAM_TIMEOUT = 3.0


class StreamUnavailable(Exception):
    """The stream backend (Redis) cannot be reached right now; the HTTP app answers 503, like StoreUnavailable."""


class StreamError(Exception):
    """The stream backend reported an error other than being unreachable (a wrong key type, a script
    error, a refused password...)."""


class StreamConfigError(ValueError):
    """The stream manager configuration is invalid; the message says how to fix it."""


class StreamEvents(Protocol):
    """What an instance does with control events; called from the pump task, so never block."""

    def on_broadcast(self, event: ControlEvent) -> None:
        """A control event some instance (this one included) broadcast (see control.py)."""
        ...

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
        self, session_id: str, capacity: int, *, slow_timeout: float = DEFAULT_SLOW_STREAM_TIMEOUT
    ) -> AbstractAsyncContextManager[StreamBuffer]:
        """Receive the messages published for `session_id` while held, in a :class:`StreamBuffer`; it ends
        when the subscription is superseded or the client lags (full for longer than `slow_timeout`).

        The buffer's `order` numbers the hold after every earlier subscribe of the session on any instance
        sharing the backend (which of two GET streams is newer, however late their `StreamTaken` arrive)."""
        ...

    def deliver_local(self, session_id: str, payload: bytes, *, coalesce: bool = False) -> bool:
        """Push into the stream held on this instance, if any (no network); False when not held here.

        `coalesce`: a parameterless notification the client needs to see only once while it is queued."""
        ...

    async def publish(self, session_id: str, payload: bytes) -> bool:
        """Send one encoded JSON-RPC message to the session's stream, wherever it is held; False when no
        instance holds it (the message went nowhere: the caller may park it in the event store)."""
        ...

    async def broadcast(self, event: ControlEvent) -> None:
        """Hand `event` to the on_broadcast of every instance, this one's at once."""
        ...

    async def set_route(self, session_id: str, request_id: str | int) -> None:
        """Remember that this instance waits for the reply to `request_id` (TTL 5 min)."""
        ...

    async def forward_reply(self, session_id: str, request_id: str | int, payload: bytes) -> bool:
        """Send a reply to the instance waiting for it; False when no instance is known to wait."""
        ...

    async def holder(self, session_id: str) -> str | None:
        """The live instance holding the session's stream, or None (never held, or its holder died)."""
        ...

    def ready(self) -> bool:
        """Whether this instance hears the others right now (its run() runs; on Redis: Pub/Sub connected)."""
        ...

    async def is_alive(self, instance_id: str) -> bool:
        """Whether the instance `instance_id` runs (its heartbeat is current); this one: while `run` runs."""
        ...

    # Its lifetime: `async with manager:`; leaving it ends every stream held here (their buffers end, and the
    # writers send `retry:`). The app enters it inside its nursery, so it is left while run() still runs.
    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None: ...


def decode_event(data: bytes | str) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None  # pyright: ignore[reportUnknownVariableType]


@attrs.frozen
class StreamBufferStatistics:
    #: messages queued and not yet taken by the stream's writer
    current_buffer_used: int
    #: the soft capacity: past it the stream counts as full
    capacity: int
    #: the hard bound: never more than this many queued
    hard_limit: int
    #: the buffer has been full since this time (trio clock), or None
    full_since: float | None
    #: the stream was dropped because its client lagged
    dropped: bool


class StreamBuffer:
    """The bounded queue between a stream manager (which never waits) and the one writer of a held stream.

    A reader that keeps up with a burst is never dropped: past ``capacity`` the buffer counts as full and
    keeps queueing, up to ``hard_limit``; only a buffer that stayed full for longer than ``slow_timeout``
    (its client stopped reading) or that reached the hard limit drops the stream, which then ends once its
    writer has taken what was queued (the writer ends the response with ``retry:``, so the client comes
    back). Memory is bounded by ``hard_limit`` messages. A message offered with ``coalesce=True`` (a
    parameterless ``*/list_changed``) is skipped while an identical one is still queued.
    """

    __slots__ = (
        "_closed",
        "_coalescible",
        "_full_since",
        "_queue",
        "_waiter",
        "capacity",
        "dropped",
        "hard_limit",
        "order",
        "slow_timeout",
    )

    def __init__(self, capacity: int, *, slow_timeout: float = DEFAULT_SLOW_STREAM_TIMEOUT) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity!r}")
        self.capacity = capacity
        self.hard_limit = max(4 * capacity, capacity + 256)
        self.slow_timeout = slow_timeout
        self.dropped = False
        #: this hold's place among the session's holds, set by the manager on subscribe: a later subscribe
        #: (on any instance of the backend) has a greater one; 0: unknown. `StreamTaken` carries it.
        self.order = 0
        # A list, not a deque: a held stream's queue is nearly always empty or short (at most `hard_limit`),
        # and ten thousand idle streams each pay for a deque's preallocated block (docs/capacity.md).
        self._queue: list[bytes] = []
        self._coalescible: dict[bytes, int] | None = None  # made at the first coalescible offer
        self._closed = False
        self._full_since: float | None = None
        self._waiter: trio.lowlevel.Task | None = None  # the writer, parked in receive()

    # -- the manager's side (never blocks) --

    def offer(self, payload: bytes, *, coalesce: bool = False) -> bool:
        """Queue `payload`; False when the stream is closed or was dropped (by this call or before)."""
        if self._closed:
            return False
        if coalesce and self._coalescible is not None and payload in self._coalescible:
            return True  # an identical notification is still waiting: the client learns the same thing once
        if len(self._queue) >= self.capacity:
            now = trio.current_time()
            if self._full_since is None:
                self._full_since = now
            elif now - self._full_since > self.slow_timeout or len(self._queue) >= self.hard_limit:
                self.drop()
                return False
        self._queue.append(payload)
        if coalesce:
            if self._coalescible is None:
                self._coalescible = {}
            self._coalescible[payload] = self._coalescible.get(payload, 0) + 1
        self._wake()
        return True

    def drop(self) -> None:
        """End the stream because its client lags: the writer takes what is queued, then the stream ends."""
        if not self._closed:
            self.dropped = True
            self.close()

    def close(self) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        task = self._waiter
        if task is not None:
            self._waiter = None  # woken once: a second offer before it runs must not reschedule it again
            trio.lowlevel.reschedule(task)

    # -- the writer's side --

    def receive_nowait(self) -> bytes:
        if not self._queue:
            if self._closed:
                raise trio.EndOfChannel
            raise trio.WouldBlock
        payload = self._queue.pop(0)
        if self._coalescible is not None and payload in self._coalescible:
            left = self._coalescible[payload] - 1
            if left:
                self._coalescible[payload] = left
            else:
                del self._coalescible[payload]
        if len(self._queue) < self.capacity:
            self._full_since = None
        return payload

    async def receive(self) -> bytes:
        """The next message; raises trio.EndOfChannel once the stream is closed and its queue is empty."""
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._queue or self._closed:
            payload = self.receive_nowait()  # ready now: still a schedule point, as trio's receive() is
            await trio.lowlevel.cancel_shielded_checkpoint()
            return payload
        # Wait outside any `except` block: a waiting writer that held a caught WouldBlock would keep it and
        # its traceback alive for as long as the stream stays idle (10,000 idle streams: 10,000 of them).
        # The writer parks itself rather than on a trio.Event: an idle stream then keeps no Event, no set of
        # waiting tasks and no abort closure (about 1 KiB each; docs/architecture.md §4).
        while not (self._queue or self._closed):
            self._waiter = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(self._abort_wait)  # the schedule point: no second one
        return self.receive_nowait()

    def _abort_wait(self, _: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
        self._waiter = None  # cancelled: the writer is no longer parked here
        return trio.lowlevel.Abort.SUCCEEDED

    def __aiter__(self) -> StreamBuffer:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def statistics(self) -> StreamBufferStatistics:
        return StreamBufferStatistics(
            current_buffer_used=len(self._queue),
            capacity=self.capacity,
            hard_limit=self.hard_limit,
            full_since=self._full_since,
            dropped=self.dropped,
        )


def take_stream(
    streams: dict[str, StreamBuffer], session_id: str, capacity: int, slow_timeout: float
) -> StreamBuffer:
    """A new buffer for the session's stream held here; a previous one held here ends (a new GET supersedes)."""
    previous = streams.get(session_id)
    if previous is not None:
        previous.close()
    buffer = streams[session_id] = StreamBuffer(capacity, slow_timeout=slow_timeout)
    return buffer


def release_stream(streams: dict[str, StreamBuffer], session_id: str, buffer: StreamBuffer) -> None:
    """The subscription of `buffer` ended: it ends, and no longer holds the session (unless taken again)."""
    if streams.get(session_id) is buffer:
        del streams[session_id]
    buffer.close()


class LocalSubscription:
    """`subscribe` of a stream manager with nothing to tell other instances: the session's buffer while entered.

    A plain class rather than an @asynccontextmanager: a held stream is inside it for its whole life, and a
    generator-based one keeps a generator, its frame and a wrapper per stream (docs/architecture.md §4)."""

    __slots__ = ("_buffer", "_capacity", "_order", "_slow_timeout", "_streams", "session_id")

    def __init__(
        self,
        streams: dict[str, StreamBuffer],
        session_id: str,
        capacity: int,
        slow_timeout: float,
        order: int = 0,
    ) -> None:
        self._streams = streams
        self.session_id = session_id
        self._capacity = capacity
        self._slow_timeout = slow_timeout
        self._order = order
        self._buffer: StreamBuffer | None = None

    def _take(self) -> StreamBuffer:
        self._buffer = take_stream(self._streams, self.session_id, self._capacity, self._slow_timeout)
        self._buffer.order = self._order
        return self._buffer

    def _release(self) -> None:
        if self._buffer is not None:
            release_stream(self._streams, self.session_id, self._buffer)

    async def __aenter__(self) -> StreamBuffer:
        return self._take()

    async def __aexit__(self, *exc: object) -> None:
        self._release()


def offer(
    streams: dict[str, StreamBuffer], session_id: str, payload: bytes, *, coalesce: bool = False
) -> bool:
    """Non-blocking push into a held stream's buffer; False when not held here or just dropped (slow client).

    The publisher never waits and memory never grows: a stream whose client lags is dropped (it reconnects).
    """
    buffer = streams.get(session_id)
    if buffer is None:
        return False
    if buffer.offer(payload, coalesce=coalesce):
        return True
    streams.pop(session_id, None)
    return False
