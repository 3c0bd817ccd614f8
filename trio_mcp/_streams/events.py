"""The event store: what each SSE stream sent, so a client can resume it on any instance (T§Resumability).

One log per (session, stream). The stream's single writer records its events with the sequence numbers of
their SSE ids (`<stream>:<seq>`, increasing, the priming event first); a resuming GET on any instance reads
what followed the client's `Last-Event-ID` and follows the log until its end marker (the writer's stream is
over) or until its owner instance is gone. Logs are bounded (`retention` events each) and expire with the
session (`ttl`, refreshed on every write); `delete_session` removes a deleted session's logs.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Literal, Protocol, Self, runtime_checkable

import attrs
import trio

from .._lifetime import Lifetime

DEFAULT_EVENT_RETENTION = 1_000
# An ended stream's log is kept this long at most: a client resumes a broken stream within seconds or minutes,
# and a busy server would otherwise keep every finished call's events for the session's whole life.
ENDED_LOG_TTL = 300.0
# The memory store keeps at most this many logs (the oldest go first), so memory stays bounded however many
# calls a busy instance serves.
MAX_MEMORY_LOGS = 10_000
EntryKind = Literal["prime", "message", "end"]


class EventsGone(Exception):
    """The events after that id are not available: an unknown stream, an id an ended stream never sent, or
    events older than what retention kept. The client must start over (the HTTP app answers 400)."""


@attrs.frozen(kw_only=True)
class StoredEvent:
    seq: int
    kind: EntryKind
    payload: bytes = (
        b""  # "message": an encoded JSON-RPC message; "prime": what the writer keeps (never sent)
    )


@attrs.frozen(kw_only=True)
class EventLog:
    """What followed an id: the message events in order, whether the stream is over, who writes it."""

    events: list[StoredEvent]
    ended: bool
    owner: str
    #: the id the stream goes on after: the log's last, or the client's id when it is past that (see check_after)
    last_seq: int
    #: the priming entry's payload while retention keeps it (a POST stream's request ids), else None
    prime: bytes | None = None


@runtime_checkable
class EventStore(Protocol):
    retention: int

    async def record(
        self, session_id: str, stream_id: str, entries: Sequence[StoredEvent], *, owner: str
    ) -> None:
        """Append `entries` (increasing seqs, after every earlier one) to the log, in one round trip; `owner`
        is the instance writing it. The log is created by its first record and trimmed to `retention`."""
        ...

    async def after(self, session_id: str, stream_id: str, seq: int) -> EventLog:
        """The log's entries after `seq`; raises EventsGone (see there). An id past the end of a log that has
        not ended is no error: its writer sends before it records (check_after)."""
        ...

    async def wait(self, session_id: str, stream_id: str, seq: int, timeout: float) -> None:
        """Return when entries after `seq` may have been recorded, or after `timeout` seconds."""
        ...

    async def park(self, session_id: str, payload: bytes) -> None:
        """Keep a message for the session's standalone stream while no instance holds it (bounded by
        `retention`, expiring with the session); the next GET that resumes the stream sends it."""
        ...

    async def take_parked(self, session_id: str) -> list[bytes]:
        """The parked messages of the session, oldest first, removed in the same step."""
        ...

    async def delete_session(self, session_id: str) -> None:
        """Remove every log of the session (DELETE), its parked messages included."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None: ...


def wake_key(session_id: str, stream_id: str) -> str:
    """The name under which a stream manager carries the wake-ups of one log (a record publishes there)."""
    return f"{session_id}/{stream_id}"


def check_after(stream_id: str, seq: int, first: int | None, last: int | None, *, ended: bool) -> None:
    """Raise EventsGone unless `seq` is an id of the log whose kept entries run from `first` to `last`.

    A stream's writer sends its events, then records them (docs/architecture.md §4): a client can hold an
    id past the log's end when the stream's instance stopped in between (or the record is still on its way).
    Those events reached the client, so a log that has not ended goes on after the client's id; past the end
    of an ended log, an id was never sent.
    """
    if first is None or last is None:
        raise EventsGone(f"stream {stream_id!r} is unknown or expired")
    if seq > last and ended:
        raise EventsGone(f"stream {stream_id!r} never sent event {seq} (its last is {last})")
    if seq < first - 1:
        raise EventsGone(
            f"the events after {stream_id}:{seq} are no longer available (only the last {last - first + 1} "
            "are kept)"
        )


@attrs.define(eq=False)
class _Log:
    # A list trimmed to `retention` on each write, and an Event only while someone waits: ten thousand held
    # streams each keep a log, and a deque's preallocated block and an idle Event were most of one.
    entries: list[StoredEvent]
    owner: str
    deadline: float
    changed: trio.Event | None = None


class MemoryEventStore(Lifetime):
    """Logs in this process (one instance; TTLs on the trio clock, like MemorySessionStore)."""

    def __init__(
        self,
        *,
        retention: int = DEFAULT_EVENT_RETENTION,
        ttl: float = 86_400.0,
        max_logs: int = MAX_MEMORY_LOGS,
    ) -> None:
        if retention < 1:
            raise ValueError(f"retention must be at least 1 event, got {retention!r}")
        self.retention = retention
        self.ttl = ttl
        self.max_logs = max_logs
        self._logs: dict[tuple[str, str], _Log] = {}
        self._parked: dict[str, tuple[collections.deque[bytes], float]] = {}

    @asynccontextmanager
    async def _lifetime(self) -> AsyncGenerator[None]:
        yield

    def _live(self, key: tuple[str, str]) -> _Log | None:
        log = self._logs.get(key)
        if log is not None and log.deadline <= trio.current_time():
            del self._logs[key]
            return None
        return log

    async def record(
        self, session_id: str, stream_id: str, entries: Sequence[StoredEvent], *, owner: str
    ) -> None:
        # Not a schedule point: the caller (a stream's writer) sends right after, and that send is one. A
        # yield here cost every event of every held stream a second pass through the scheduler.
        await trio.lowlevel.checkpoint_if_cancelled()
        if not entries:
            return
        key = (session_id, stream_id)
        log = self._live(key)
        previous = log.entries[-1].seq if log is not None and log.entries else 0
        for entry in entries:
            if entry.seq <= previous:
                raise ValueError(f"seq {entry.seq} is not after {previous} in stream {stream_id!r}")
            previous = entry.seq
        if log is None:
            if len(self._logs) >= self.max_logs:
                self._evict()
            log = _Log([], owner, 0.0)
        else:
            del self._logs[key]  # re-inserted below: the dict's order is the order of last writes
        self._logs[key] = log
        log.entries.extend(entries)
        if len(log.entries) > self.retention:
            del log.entries[: len(log.entries) - self.retention]
        log.owner = owner
        ended = log.entries[-1].kind == "end"
        log.deadline = trio.current_time() + (min(self.ttl, ENDED_LOG_TTL) if ended else self.ttl)
        if log.changed is not None:
            log.changed.set()
            log.changed = None

    def _evict(self) -> None:
        now = trio.current_time()
        for key in [key for key, log in self._logs.items() if log.deadline <= now]:
            del self._logs[key]
        if len(self._logs) >= self.max_logs:  # still full: the tenth written to longest ago
            for key in list(self._logs)[: max(1, self.max_logs // 10)]:
                del self._logs[key]

    def __len__(self) -> int:
        return len(self._logs)

    async def after(self, session_id: str, stream_id: str, seq: int) -> EventLog:
        await trio.lowlevel.checkpoint()
        log = self._live((session_id, stream_id))
        entries = list(log.entries) if log is not None else []
        ended = bool(entries) and entries[-1].kind == "end"
        first, last = (entries[0].seq, entries[-1].seq) if entries else (None, None)
        check_after(stream_id, seq, first, last, ended=ended)
        assert log is not None
        later = [entry for entry in entries if entry.seq > seq]
        return EventLog(
            events=[entry for entry in later if entry.kind == "message"],
            ended=ended,
            owner=log.owner,
            last_seq=max(entries[-1].seq, seq),
            prime=entries[0].payload if entries[0].kind == "prime" else None,
        )

    async def wait(self, session_id: str, stream_id: str, seq: int, timeout: float) -> None:
        log = self._live((session_id, stream_id))
        if log is not None and log.entries and log.entries[-1].seq > seq:
            await trio.lowlevel.checkpoint()
            return
        with trio.move_on_after(max(0.0, timeout)):
            if log is None:
                await trio.sleep_forever()  # nothing to wait on: the caller re-reads after the timeout
            if log.changed is None:
                log.changed = trio.Event()
            await log.changed.wait()

    async def park(self, session_id: str, payload: bytes) -> None:
        await trio.lowlevel.checkpoint()
        now = trio.current_time()
        parked = self._parked.get(session_id)
        if parked is None or parked[1] <= now:
            if len(self._parked) >= self.max_logs:
                for sid in list(self._parked)[: max(1, self.max_logs // 10)]:
                    del self._parked[sid]
            parked = (collections.deque[bytes](maxlen=self.retention), 0.0)
        parked[0].append(payload)
        self._parked.pop(session_id, None)
        self._parked[session_id] = (parked[0], now + self.ttl)

    async def take_parked(self, session_id: str) -> list[bytes]:
        await trio.lowlevel.checkpoint()
        parked = self._parked.pop(session_id, None)
        if parked is None or parked[1] <= trio.current_time():
            return []
        return list(parked[0])

    async def delete_session(self, session_id: str) -> None:
        for key in [key for key in self._logs if key[0] == session_id]:
            del self._logs[key]
        self._parked.pop(session_id, None)
        await trio.lowlevel.checkpoint()
