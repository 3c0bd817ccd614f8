"""The event-store conformance kit on every backend (and on broken ones), plus what only Redis or memory has."""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from _redis_server import RedisServer, free_port

from trio_mcp._redis import RedisConnection
from trio_mcp._streams._base import StreamUnavailable
from trio_mcp._streams.event_kit import KIT_RETENTION, check_event_store
from trio_mcp._streams.event_redis import RedisEventStore
from trio_mcp._streams.events import (
    ENDED_LOG_TTL,
    EventsGone,
    EventStore,
    MemoryEventStore,
    StoredEvent,
)
from trio_mcp._streams.redis import RedisStreamManager, StreamError
from trio_mcp.streams import RecordingEvents

# Failed connection attempts may leave coredis' memory streams for the GC (see tests/stores/test_redis_store.py).
REDIS_DOWN_WARNING = "ignore:Unclosed <MemoryObject(Send|Receive)Stream:ResourceWarning"


def prime(seq: int = 1) -> StoredEvent:
    return StoredEvent(seq=seq, kind="prime", payload=b'{"requests":[1]}')


def message(seq: int) -> StoredEvent:
    return StoredEvent(seq=seq, kind="message", payload=f'{{"n":{seq}}}'.encode())


def end(seq: int) -> StoredEvent:
    return StoredEvent(seq=seq, kind="end")


def number(server: RedisServer, *command: str) -> int:
    """An integer reply (PTTL, XLEN...) of the test server."""
    reply = server.command(*command)
    assert isinstance(reply, int), reply
    return reply


# -- the kit --


async def test_memory_event_store_passes_the_kit() -> None:
    @asynccontextmanager
    async def factory(retention: int, ttl: float) -> AsyncGenerator[EventStore]:
        async with MemoryEventStore(retention=retention, ttl=ttl) as store:
            yield store

    await check_event_store(factory)


@pytest.mark.redis
async def test_redis_event_store_passes_the_kit(redis_url: str) -> None:
    counter = itertools.count()

    @asynccontextmanager
    async def factory(retention: int, ttl: float) -> AsyncGenerator[EventStore]:
        store = RedisEventStore.from_url(
            redis_url, prefix=f"kit{next(counter)}:", retention=retention, ttl=ttl
        )
        async with store:
            yield store

    await check_event_store(factory)


class KeepsDeletedLogs(MemoryEventStore):
    async def delete_session(self, session_id: str) -> None:
        await trio.lowlevel.checkpoint()  # claims to delete, keeps the logs


class NeverTrims(MemoryEventStore):
    async def record(self, session_id: str, stream_id: str, entries: Any, *, owner: str) -> None:
        said, self.retention = self.retention, 10_000  # says it keeps `retention`, keeps everything
        try:
            await super().record(session_id, stream_id, entries, owner=owner)
        finally:
            self.retention = said


class WaitsTooLittle(MemoryEventStore):
    async def wait(self, session_id: str, stream_id: str, seq: int, timeout: float) -> None:
        await trio.lowlevel.checkpoint()  # returns at once, whatever the timeout


class AcceptsAnySeq(MemoryEventStore):
    async def record(self, session_id: str, stream_id: str, entries: Any, *, owner: str) -> None:
        log = self._live((session_id, stream_id))
        if log is not None and entries and log.entries and entries[0].seq <= log.entries[-1].seq:
            return  # drops the call silently instead of refusing it
        await super().record(session_id, stream_id, entries, owner=owner)


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (
            KeepsDeletedLogs,
            r"KeepsDeletedLogs / delete\] after\('a', 'x', 0\) \(delete_session\('a'\)\) did not raise",
        ),
        (NeverTrims, r"NeverTrims / retention\] after\(0\) still works after 300 events"),
        (
            WaitsTooLittle,
            r"WaitsTooLittle / wait\] wait\(timeout=0.3\) with nothing after the id returned after",
        ),
        (AcceptsAnySeq, r"AcceptsAnySeq / order\] record\(\) of the last seq again .* was accepted"),
    ],
)
async def test_the_kit_catches_a_broken_store(broken: type[MemoryEventStore], expected: str) -> None:
    @asynccontextmanager
    async def factory(retention: int, ttl: float) -> AsyncGenerator[EventStore]:
        yield broken(retention=retention, ttl=ttl)

    with pytest.raises(AssertionError, match=expected):
        await check_event_store(factory)


# -- MemoryEventStore --


async def test_memory_store_keeps_a_bounded_number_of_logs() -> None:
    store = MemoryEventStore(retention=KIT_RETENTION, max_logs=10)
    for n in range(25):
        await store.record("s", f"stream{n}", [prime(), message(2)], owner="me")
        assert len(store) <= 10
    for n in range(20, 25):  # the newest streams are readable
        log = await store.after("s", f"stream{n}", 0)
        assert log.events == [message(2)]
    with pytest.raises(EventsGone):  # the oldest went first
        await store.after("s", "stream0", 0)


async def test_memory_store_logs_expire(autojump_clock: trio.testing.MockClock) -> None:
    store = MemoryEventStore(ttl=1_000.0)
    await store.record("s", "open", [prime(), message(2)], owner="me")
    await store.record("s", "ended", [prime(), message(2), end(3)], owner="me")
    await trio.sleep(ENDED_LOG_TTL + 1)  # an ended log lives ENDED_LOG_TTL at most
    with pytest.raises(EventsGone, match="unknown or expired"):
        await store.after("s", "ended", 0)
    assert (await store.after("s", "open", 0)).last_seq == 2
    await store.record("s", "open", [message(3)], owner="me")  # a write refreshes the TTL
    await trio.sleep(1_000.0 - ENDED_LOG_TTL)
    assert (await store.after("s", "open", 0)).last_seq == 3
    await trio.sleep(ENDED_LOG_TTL + 1)
    with pytest.raises(EventsGone, match="unknown or expired"):
        await store.after("s", "open", 0)


# -- RedisEventStore --


@asynccontextmanager
async def redis_store(url: str, **options: Any) -> AsyncGenerator[RedisEventStore]:
    async with RedisEventStore.from_url(url, prefix="t:", **options) as store:
        yield store


def count_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The action of every RedisConnection.run call (one round trip each) from now on."""
    actions: list[str] = []
    original = RedisConnection.run

    async def run(self: RedisConnection, action: str, operation: Callable[[Any], Awaitable[Any]]) -> Any:
        actions.append(action)
        return await original(self, action, operation)

    monkeypatch.setattr(RedisConnection, "run", run)
    return actions


@pytest.mark.redis
async def test_redis_key_layout_and_ttls(redis_url: str, redis_server: RedisServer) -> None:
    async with redis_store(redis_url, ttl=3_600.0) as store:
        await store.record("sid-1", "st1", [prime(), message(2)], owner="instance-a")
        log_key, index = "t:events:{sid-1}:st1", "t:events:{sid-1}"
        assert store.layout.event_log("sid-1", "st1") == log_key
        assert store.layout.event_logs("sid-1") == index
        assert redis_server.command("EXISTS", index, log_key) == 2
        assert redis_server.command("DBSIZE") == 2  # nothing else
        assert redis_server.command("TYPE", log_key) == "stream"  # a simple string reply
        assert redis_server.command("SMEMBERS", index) == [b"st1"]
        assert redis_server.command("XRANGE", log_key, "-", "+") == [
            [b"0-1", [b"k", b"prime", b"d", b'{"requests":[1]}', b"o", b"instance-a"]],
            [b"0-2", [b"k", b"message", b"d", b'{"n":2}', b"o", b"instance-a"]],
        ]
        for key in (log_key, index):
            assert 3_500_000 < number(redis_server, "PTTL", key) <= 3_600_000

        await store.record("sid-1", "st1", [message(3), end(4)], owner="instance-a")
        assert 0 < number(redis_server, "PTTL", log_key) <= ENDED_LOG_TTL * 1000
        assert number(redis_server, "PTTL", index) > ENDED_LOG_TTL * 1000


@pytest.mark.redis
async def test_redis_ttl_is_the_session_ttl_when_shorter_than_the_ended_ttl(
    redis_url: str, redis_server: RedisServer
) -> None:
    async with redis_store(redis_url, ttl=60.0) as store:
        await store.record("s", "st", [prime(), end(2)], owner="me")
        assert 0 < number(redis_server, "PTTL", "t:events:{s}:st") <= 60_000


@pytest.mark.redis
async def test_redis_delete_session_removes_its_keys(redis_url: str, redis_server: RedisServer) -> None:
    async with redis_store(redis_url) as store:
        streams = [f"st{n}" for n in range(1_200)]  # more than one SSCAN page and DEL batch
        for stream in streams:
            await store.record("gone", stream, [prime()], owner="me")
        await store.record("kept", "st0", [prime()], owner="me")
        await store.delete_session("gone")
        keys = ["t:events:{gone}", *(f"t:events:{{gone}}:{stream}" for stream in streams)]
        assert redis_server.command("EXISTS", *keys) == 0
        assert redis_server.command("EXISTS", "t:events:{kept}", "t:events:{kept}:st0") == 2


@pytest.mark.redis
async def test_redis_round_trips(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with redis_store(redis_url) as store:
        actions = count_runs(monkeypatch)
        await store.record("s", "st", [prime(), *(message(n) for n in range(2, 200))], owner="me")
        assert actions == ["record"]
        await store.record("s", "st", [message(200), end(201)], owner="me")
        assert actions == ["record", "record"]
        actions.clear()
        log = await store.after("s", "st", 150)
        assert [event.seq for event in log.events] == list(range(151, 201))
        assert actions == ["after"]
        actions.clear()
        await store.wait("s", "st", 0, 10.0)
        assert actions == ["wait"]


@pytest.mark.redis
async def test_redis_refuses_bad_entries_before_writing(
    redis_url: str, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with redis_store(redis_url) as store:
        await store.record("s", "st", [prime(), message(2)], owner="me")
        actions = count_runs(monkeypatch)
        with pytest.raises(ValueError, match=r"seq 3 is not after 4 in 'st'"):
            await store.record("s", "st", [message(4), message(3)], owner="me")  # not increasing in one call
        with pytest.raises(ValueError, match="below 1"):
            await store.record("s", "st", [StoredEvent(seq=0, kind="message")], owner="me")
        with pytest.raises(ValueError, match="not UTF-8"):
            await store.record("s", "st", [StoredEvent(seq=3, kind="message", payload=b"\xff")], owner="me")
        assert actions == []  # none of them reached Redis
        with pytest.raises(ValueError, match=r"seq 2 is not after 2 in 'st'"):
            await store.record("s", "st", [message(2), message(3)], owner="me")
        assert redis_server.command("XLEN", "t:events:{s}:st") == 2  # nothing written, not even the 3
        await store.record("s", "st", [], owner="me")
        assert actions == ["record"]  # an empty record costs no round trip


@pytest.mark.redis
async def test_redis_retention_is_approximate_but_bounded(redis_url: str, redis_server: RedisServer) -> None:
    async with redis_store(redis_url, retention=10) as store:
        for start in range(1, 2_001, 500):
            await store.record("s", "st", [message(n) for n in range(start, start + 500)], owner="me")
        kept = number(redis_server, "XLEN", "t:events:{s}:st")
        assert 10 <= kept <= 10 + 100  # MAXLEN ~ drops whole nodes (stream-node-max-entries: 100)
        log = await store.after("s", "st", 2_000 - kept)
        assert [event.seq for event in log.events] == list(range(2_001 - kept, 2_001))
        with pytest.raises(EventsGone, match="no longer available"):
            await store.after("s", "st", 1_999 - kept)


@pytest.mark.redis
async def test_redis_wait_polls_until_the_timeout(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with redis_store(redis_url) as store:
        await store.record("s", "st", [prime()], owner="me")
        actions = count_runs(monkeypatch)
        start = trio.current_time()
        await store.wait("s", "st", 1, 0.3)
        assert trio.current_time() - start >= 0.3
        assert 2 <= len(actions) <= 0.3 / 0.05 + 2  # a poll per interval, not a busy loop
        # A gone log is polled like a quiet one (the memory store returns at once): a caller that goes on
        # following it waits its timeout rather than spinning on Redis.
        start = trio.current_time()
        await store.wait("s", "unknown", 0, 0.2)
        assert trio.current_time() - start >= 0.2


@pytest.mark.redis
async def test_redis_errors_map_to_the_stream_classes(redis_url: str, redis_server: RedisServer) -> None:
    async with redis_store(redis_url) as store:
        redis_server.command("SET", "t:events:{s}:st", "not a stream")
        with pytest.raises(StreamError, match="wrong kind of value"):
            await store.record("s", "st", [prime()], owner="me")
        with pytest.raises(StreamError, match="wrong kind of value"):
            await store.after("s", "st", 0)


@pytest.mark.redis
@pytest.mark.filterwarnings(REDIS_DOWN_WARNING)
async def test_redis_down_is_stream_unavailable() -> None:
    store = RedisEventStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    async with store:
        with pytest.raises(StreamUnavailable, match="unavailable"):
            await store.record("s", "st", [prime()], owner="me")
        with pytest.raises(StreamUnavailable):
            await store.after("s", "st", 0)


def test_redis_store_validates_its_settings() -> None:
    with pytest.raises(ValueError, match="retention"):
        RedisEventStore.from_url("redis://127.0.0.1:1/0", retention=0)
    with pytest.raises(ValueError, match="ttl"):
        RedisEventStore.from_url("redis://127.0.0.1:1/0", ttl=0)


@pytest.mark.redis
async def test_with_a_stream_manager_a_record_wakes_the_wait_over_pubsub(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pub/Sub is the wake-up: one look at the log, then no command until the record's PUBLISH arrives."""
    manager = RedisStreamManager.from_url(redis_url, prefix="t:", heartbeat_interval=5)
    async with trio.open_nursery() as nursery:
        await nursery.start(manager.run, RecordingEvents())
        async with (
            manager,
            redis_store(redis_url, wakeups=manager) as follower,
            redis_store(redis_url) as writer,
        ):
            await writer.record("s", "wk", [prime()], owner="a")
            actions = count_runs(monkeypatch)
            woken_after: list[float] = []

            async def follow() -> None:
                start = trio.current_time()
                await follower.wait("s", "wk", 1, 10.0)
                woken_after.append(trio.current_time() - start)

            async with trio.open_nursery() as inner:
                inner.start_soon(follow)
                await trio.sleep(0.5)  # the follower waits quietly meanwhile
                waits = actions.count("wait")
                await writer.record("s", "wk", [message(2)], owner="a")
            assert waits == 1, actions  # subscribed, looked once, then waited on Pub/Sub: no polling
            assert 0.5 <= woken_after[0] < 5.0
        nursery.cancel_scope.cancel()
