"""RedisEventStore: the SSE event logs in Redis Streams, so a client can resume a stream on any instance.

Keys (``prefix`` defaults to ``mcp:``). The braces are literal: the session id in them is a hash tag, so one
session's keys share a Redis Cluster slot and the record script may touch them together.

===================================  ======  ==========================================================
``{prefix}events:{<sid>}:<stream>``  STREAM  one SSE stream's entries, id ``0-<seq>``, fields ``k`` (kind),
                                             ``d`` (payload, UTF-8 JSON), ``o`` (the writing instance);
                                             ``MAXLEN ~ retention``; PX ``ttl`` (an ended log: at most
                                             ``ENDED_LOG_TTL``), refreshed on every record
``{prefix}events:{<sid>}``           SET     the ids of the session's logged streams (DELETE removes their
                                             logs); PX ``ttl``, refreshed with every record, so it outlives
                                             each of its logs
===================================  ======  ==========================================================

Semantics are the memory store's (:class:`~.events.MemoryEventStore`; both pass ``check_event_store``),
except:

* **Retention is approximate.** ``MAXLEN ~`` trims whole stream nodes (up to 100 entries each with the default
  ``stream-node-max-entries``), so a log keeps at least ``retention`` entries and at most about 100 more;
  :meth:`RedisEventStore.after` judges an id by what was actually kept.
* **Waiting uses Pub/Sub as the wake-up.** :meth:`RedisEventStore.wait` uses no blocking command (a blocked
  connection per resumed stream would drain the pool). Each record PUBLISHes its last seq on the log's
  wake-up channel (``{prefix}stream:{sid}/{stream}``, inside the record script: no extra round trip); with a
  stream manager (``wakeups``, the app's) a wait subscribes that channel, looks at the log once and sleeps
  until the PUBLISH. Without one (or while its Pub/Sub reconnects) it polls the log every
  :data:`POLL_INTERVAL`; a missing log is waited on too (the memory store returns at once).
* **An empty record writes nothing** (the memory store creates an empty log, which reads as unknown all the
  same, and takes its owner).
* **A DELETE removes the logs inside the session store's end script** when the app's backends share one Redis
  (:meth:`RedisEventStore.session_keys` names them; ``SessionAdmin``): no round trip of the event store's own.
  :meth:`RedisEventStore.delete_session` (SSCAN pages, then DELs) is the way otherwise.

``record`` is ONE script call (atomic, one round trip): it refuses a first seq not after the log's last one
with nothing written, which a MULTI/EXEC pipeline cannot do (a failing XADD there does not stop the later
ones). That refusal and every other caller error (seqs not increasing within the call, a seq below 1, a
payload that is not UTF-8) raise ValueError, like the memory store; Redis being unreachable raises
:class:`~._base.StreamUnavailable` and any other Redis failure :class:`~._base.StreamError` (the stream
manager's classes).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

import trio

from .._lifetime import Lifetime
from .._redis import DEFAULT_TIMEOUT, RedisConnection, Scripts, milliseconds
from .._redis_keys import RedisKeys
from .._redis_lifecycle import SessionEventKeys
from ._base import StreamError, StreamManager, StreamUnavailable
from .events import (
    DEFAULT_EVENT_RETENTION,
    ENDED_LOG_TTL,
    EntryKind,
    EventLog,
    StoredEvent,
    check_after,
    wake_key,
)

if TYPE_CHECKING:
    import coredis
    from coredis.response.types import StreamEntry

POLL_INTERVAL = 0.05  # how often wait() looks for new entries
_DELETE_BATCH = 500  # log keys per DEL (and set members per SSCAN page) in delete_session
_KINDS: frozenset[str] = frozenset(("prime", "message", "end"))

# KEYS[1] = the log, KEYS[2] = the session's set of logs.
# ARGV: 1 retention, 2 log TTL ms, 3 set TTL ms, 4 stream id, 5 owner, 6 the first seq (a number),
#       7 the log's wake-up channel (a PUBLISH of the last seq there wakes whoever follows the log),
#       then (entry id, kind, payload) per entry.
# Returns nil when recorded, else the id of the log's last entry (nothing written: the first seq is not after
# it). Checked here rather than left to XADD's own refusal so that the caller gets a ValueError, not a Redis
# error whose text would have to be parsed.
_RECORD_LUA = """
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if top[1] then
  local last = tonumber(string.match(top[1][1], '^0%-(%d+)$'))
  if last == nil or last >= tonumber(ARGV[6]) then return top[1][1] end
end
local last_id = ARGV[6]
for i = 8, #ARGV, 3 do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], ARGV[i],
             'k', ARGV[i + 1], 'd', ARGV[i + 2], 'o', ARGV[5])
  last_id = ARGV[i]
end
redis.call('PUBLISH', ARGV[7], last_id)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return false
"""


def _entry_id(seq: int) -> str:
    return f"0-{seq}"


def _seq_of(identifier: str) -> int:
    milliseconds_part, _, sequence = identifier.partition("-")
    if milliseconds_part != "0" or not sequence.isdigit():
        raise StreamError(
            f"an event log entry has the id {identifier!r}, not 0-<seq>: not written by trio_mcp"
        )
    return int(sequence)


def _stored(entry: StreamEntry) -> StoredEvent:
    fields = cast("dict[str, str]", entry.field_values)
    kind = fields.get("k", "")
    if kind not in _KINDS:
        raise StreamError(f"the event log entry {entry.identifier!r} has no valid kind: {dict(fields)!r}")
    return StoredEvent(
        seq=_seq_of(str(entry.identifier)),
        kind=cast(EntryKind, kind),
        payload=fields.get("d", "").encode("utf-8"),
    )


class RedisEventStore(Lifetime):
    """Event logs in Redis Streams: build with :meth:`from_url`, open with ``async with`` or ``open()``."""

    def __init__(
        self,
        connection: RedisConnection,
        *,
        prefix: str = "mcp:",
        retention: int = DEFAULT_EVENT_RETENTION,
        ttl: float = 86_400.0,
        wakeups: StreamManager | None = None,
    ) -> None:
        if retention < 1:
            raise ValueError(f"retention must be at least 1 event, got {retention!r}")
        if not ttl > 0:
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
        self.retention = retention
        self.ttl = ttl
        self.prefix = prefix
        self.layout = RedisKeys(prefix)
        self._conn = connection
        # The stream manager of the same Redis and prefix, when the app has one: wait() then subscribes the
        # log's wake-up channel instead of polling.
        self._wakeups = wakeups
        self._scripts = Scripts(connection, {"record": _RECORD_LUA})

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "mcp:",
        retention: int = DEFAULT_EVENT_RETENTION,
        ttl: float = 86_400.0,
        timeout: float = DEFAULT_TIMEOUT,
        wakeups: StreamManager | None = None,
    ) -> RedisEventStore:
        """A store on ``url`` (``redis://[user:password@]host:port/db``, ``rediss://``, ``unix://``).

        ``timeout`` bounds connecting and each reply; an operation fails with StreamUnavailable after at most
        twice that. Nothing connects until the first operation.
        """
        connection = RedisConnection(
            url,
            timeout=timeout,
            unavailable=StreamUnavailable,
            error=StreamError,
            owner="RedisEventStore",
        )
        return cls(connection, prefix=prefix, retention=retention, ttl=ttl, wakeups=wakeups)

    @property
    def connection(self) -> RedisConnection:
        """The Redis this store talks to (SessionAdmin checks the session store shares it)."""
        return self._conn

    def __repr__(self) -> str:
        return f"<RedisEventStore {self._conn.display_url} prefix={self.prefix!r}>"

    # -- lifetime (Lifetime): the Redis client; no connection until the first operation --

    @asynccontextmanager
    async def _lifetime(self) -> AsyncGenerator[None]:
        async with self._conn:
            yield

    # -- EventStore --

    async def record(
        self, session_id: str, stream_id: str, entries: Sequence[StoredEvent], *, owner: str
    ) -> None:
        if not entries:
            # Nothing to write (the memory store's empty log would read as unknown all the same).
            await trio.lowlevel.checkpoint()
            return
        args: list[str | int] = []
        previous = 0
        for entry in entries:
            # Checked here, before any write: the script only compares the first seq with the log's last.
            if entry.seq <= previous:
                raise ValueError(
                    f"seq {entry.seq} is not after {previous} in {stream_id!r}"
                    if previous
                    else f"seq {entry.seq} of {stream_id!r} is below 1 (Redis stream ids start at 0-1)"
                )
            previous = entry.seq
            try:
                payload = entry.payload.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"the payload of event {entry.seq} in {stream_id!r} is not UTF-8: {exc}"
                ) from None
            args += [_entry_id(entry.seq), entry.kind, payload]
        ended = entries[-1].kind == "end"
        log_ttl = min(self.ttl, ENDED_LOG_TTL) if ended else self.ttl
        header: list[str | int] = [
            self.retention,
            milliseconds(log_ttl),
            milliseconds(self.ttl),
            stream_id,
            owner,
            entries[0].seq,
            self.layout.stream(wake_key(session_id, stream_id)),
        ]
        keys = [self.layout.event_log(session_id, stream_id), self.layout.event_logs(session_id)]
        script = self._scripts["record"]
        refused: str | None = await self._conn.run(
            "record", lambda r: script(keys=keys, args=[*header, *args])
        )
        if refused is not None:
            raise ValueError(f"seq {entries[0].seq} is not after {_describe(refused)} in {stream_id!r}")

    async def after(self, session_id: str, stream_id: str, seq: int) -> EventLog:
        key = self.layout.event_log(session_id, stream_id)

        async def operation(client: coredis.Redis[str]) -> tuple[Any, ...]:
            # One snapshot: the first kept entry, what follows seq, and the last entry.
            async with client.pipeline(transaction=True) as pipe:
                pipe.xrange(key, "-", "+", count=1)
                pipe.xrange(key, f"({_entry_id(max(seq, 0))}", "+")
                pipe.xrevrange(key, "+", "-", count=1)
            results = pipe.results
            assert results is not None
            return results

        first_entries, later_entries, last_entries = await self._conn.run("after", operation)
        first = [_stored(entry) for entry in first_entries]
        later = [_stored(entry) for entry in later_entries]
        last = [_stored(entry) for entry in last_entries]
        ended = bool(last) and last[0].kind == "end"
        check_after(
            stream_id, seq, first[0].seq if first else None, last[0].seq if last else None, ended=ended
        )
        fields = cast("dict[str, str]", last_entries[0].field_values)
        return EventLog(
            events=[entry for entry in later if entry.kind == "message"],
            ended=ended,
            owner=fields.get("o", ""),
            last_seq=max(last[0].seq, seq),
            prime=first[0].payload if first[0].kind == "prime" else None,
        )

    async def wait(self, session_id: str, stream_id: str, seq: int, timeout: float) -> None:
        """Return once entries follow `seq` or after `timeout`; the caller then reads with :meth:`after`.

        With `wakeups`, Pub/Sub is the wake-up: the log's channel is subscribed first, then the log checked
        once (a record in between is not missed), then the PUBLISH of the next record ends the wait. Without,
        the log is polled every :data:`POLL_INTERVAL`. A missing log (expired, deleted) is waited on like a
        quiet one, where the memory store returns at once: a caller that goes on following it must not spin.
        """
        key = self.layout.event_log(session_id, stream_id)
        if self._wakeups is not None:
            try:
                await self._wait_for_wakeup(self._wakeups, key, wake_key(session_id, stream_id), seq, timeout)
                return
            except StreamUnavailable:
                pass  # Pub/Sub is reconnecting: poll this time
        deadline = trio.current_time() + max(timeout, 0.0)
        while True:
            last: tuple[StreamEntry, ...] = await self._conn.run(
                "wait", lambda r: r.xrevrange(key, "+", "-", count=1)
            )
            if last and _seq_of(str(last[0].identifier)) > seq:
                return
            remaining = deadline - trio.current_time()
            if remaining <= 0:
                return
            await trio.sleep(min(POLL_INTERVAL, remaining))

    async def _wait_for_wakeup(
        self, wakeups: StreamManager, key: str, channel: str, seq: int, timeout: float
    ) -> None:
        with trio.move_on_after(max(timeout, 0.0)):
            async with wakeups.subscribe(channel, 4) as buffer:
                last: tuple[StreamEntry, ...] = await self._conn.run(
                    "wait", lambda r: r.xrevrange(key, "+", "-", count=1)
                )
                if last and _seq_of(str(last[0].identifier)) > seq:
                    return
                try:
                    await buffer.receive()
                except (
                    trio.EndOfChannel
                ):  # the subscription ended (dropped): the caller reads and waits again
                    await trio.sleep(POLL_INTERVAL)

    async def park(self, session_id: str, payload: bytes) -> None:
        key, text, ttl = self.layout.parked(session_id), payload.decode("utf-8"), milliseconds(self.ttl)

        async def operation(client: coredis.Redis[str]) -> None:
            async with client.pipeline(transaction=True) as pipe:
                pipe.rpush(key, [text])
                pipe.ltrim(key, -self.retention, -1)
                pipe.pexpire(key, ttl)

        await self._conn.run("park", operation)

    async def take_parked(self, session_id: str) -> list[bytes]:
        key = self.layout.parked(session_id)

        async def operation(client: coredis.Redis[str]) -> tuple[Any, ...]:
            async with client.pipeline(transaction=True) as pipe:
                pipe.lrange(key, 0, -1)
                pipe.delete([key])
            results = pipe.results
            assert results is not None
            return results

        texts, _ = await self._conn.run("take_parked", operation)
        return [str(text).encode("utf-8") for text in texts]

    def session_keys(self, session_id: str) -> SessionEventKeys:
        """The keys :meth:`delete_session` removes, for the session store's end script (one round trip)."""
        return SessionEventKeys(
            logs=self.layout.event_logs(session_id),
            parked=self.layout.parked(session_id),
            log_head=self.layout.event_log(session_id, ""),
        )

    async def delete_session(self, session_id: str) -> None:
        await self._conn.run("delete_session", lambda r: r.delete([self.layout.parked(session_id)]))
        index = self.layout.event_logs(session_id)
        cursor = 0
        while True:
            # SSCAN pages rather than one SMEMBERS: the reply stays bounded however many streams the session
            # had; the set is only deleted at the end, so the scan sees every member.
            cursor, members = await self._conn.run(
                "delete_session",
                lambda r, cursor=cursor: r.sscan(index, cursor=cursor, count=_DELETE_BATCH),
            )
            logs = [self.layout.event_log(session_id, str(stream_id)) for stream_id in members]
            for start in range(0, len(logs), _DELETE_BATCH):
                batch = logs[start : start + _DELETE_BATCH]
                await self._conn.run("delete_session", lambda r, batch=batch: r.delete(batch))
            if cursor == 0:
                break
        await self._conn.run("delete_session", lambda r: r.delete([index]))


def _describe(last_id: str) -> str:
    milliseconds_part, _, sequence = last_id.partition("-")
    return sequence if milliseconds_part == "0" and sequence.isdigit() else f"the entry {last_id!r}"
