"""RedisSessionStore specifics: key layout, batched touch, prefixes, no KEYS, and Redis going away."""

from __future__ import annotations

import gc
import json
import logging
import sys
import time
import warnings
from typing import Any

import attrs
import pytest
import trio
from _redis_server import RedisServer, free_port
from _round_trips import count_round_trips

from trio_mcp import _redis
from trio_mcp._stores.kit import full_record
from trio_mcp._stores.redis import load_record
from trio_mcp.stores import ExpiryPolicy, RedisSessionStore, SessionRecord, StoreUnavailable

pytestmark = pytest.mark.redis

POLICY = ExpiryPolicy(idle_timeout=3600, pending_timeout=60)

# coredis 6.9 leaks anyio memory streams for every failed connection attempt (a ResourceWarning when they
# are garbage-collected). trio_mcp._redis closes them (test_failed_connections_leak_no_streams proves it);
# this narrow ignore is only the safety net for the tests that take Redis away.
REDIS_DOWN_WARNING = "ignore:Unclosed <MemoryObject(Send|Receive)Stream:ResourceWarning"


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def all_keys(client: Any) -> list[str]:
    keys: list[str] = []
    cursor = None
    while cursor != 0:
        cursor, page = await client.scan(cursor=cursor or 0, count=1000)
        keys.extend(page)
    return sorted(keys)


async def live_ids(store: RedisSessionStore) -> list[str]:
    found = store.keys()
    return sorted([sid async for sid in found])


async def commandstats(client: Any) -> dict[str, int]:
    info = await client.info("commandstats")
    return {name.removeprefix("cmdstat_"): stats["calls"] for name, stats in info.items()}


async def test_key_layout(redis_url: str, redis_client: Any) -> None:
    clock = FakeClock()
    store = RedisSessionStore.from_url(redis_url, prefix="app:", policy=POLICY, clock=clock)
    async with store:
        pending = full_record("s1", principal="alice")
        pending.status = "pending"
        await store.set(pending)

        assert await all_keys(redis_client) == ["app:session:s1", "app:sessions", "app:user:alice:sessions"]
        assert await redis_client.type("app:session:s1") == "string"
        assert load_record(await redis_client.get("app:session:s1")) == pending
        assert 50_000 < await redis_client.pttl("app:session:s1") <= 60_000
        assert await redis_client.zscore("app:sessions", "s1") == pytest.approx(clock.now + 60)
        assert await redis_client.zscore("app:user:alice:sessions", "s1") == pytest.approx(clock.now + 60)
        assert await redis_client.pttl("app:sessions") == -1  # the index never expires as a whole
        assert 0 < await redis_client.pttl("app:user:alice:sessions") <= 60_000

        active = full_record("s1", principal="alice")
        await store.set(active)  # initialized: the idle timeout now applies
        assert 3_590_000 < await redis_client.pttl("app:session:s1") <= 3_600_000
        assert await redis_client.zscore("app:sessions", "s1") == pytest.approx(clock.now + 3600)
        assert 3_590_000 < await redis_client.pttl("app:user:alice:sessions") <= 3_600_000

        await store.set(full_record("s2", principal=None), ttl=30)
        assert 29_000 < await redis_client.pttl("app:session:s2") <= 30_000
        assert await redis_client.zscore("app:sessions", "s2") == pytest.approx(clock.now + 30)
        assert await store.count() == 2

        assert await store.delete("s1")
        assert await all_keys(redis_client) == ["app:session:s2", "app:sessions"]
        assert await redis_client.zscore("app:sessions", "s1") is None


async def test_touch_is_one_round_trip_for_the_whole_batch(redis_url: str, redis_client: Any) -> None:
    clock = FakeClock()
    store = RedisSessionStore.from_url(redis_url, policy=POLICY, clock=clock)
    async with store:
        for i in range(100):
            await store.set(full_record(f"a{i}", principal="bob"), ttl=5)
        await store.set(SessionRecord(session_id="p", principal="bob"), ttl=5)  # pending
        await store.touch(["warm-up"])  # loads the script

        calls = count_round_trips(store.connection)
        clock.now += 10
        await redis_client.config_resetstat()
        await store.touch([*(f"a{i}" for i in range(100)), "p", "missing"])
        assert calls == ["touch"]
        stats = await commandstats(redis_client)
        assert stats.get("evalsha") == 1, stats
        assert "keys" not in stats

        for sid in ("a0", "a99"):
            assert 3_590_000 < await redis_client.pttl(f"mcp:session:{sid}") <= 3_600_000
            assert await redis_client.zscore("mcp:sessions", sid) == pytest.approx(clock.now + 3600)
            assert await redis_client.zscore("mcp:user:bob:sessions", sid) == pytest.approx(clock.now + 3600)
            raw = await redis_client.get(f"mcp:session:{sid}")
            assert json.loads(raw)["lastAccessedAt"] == clock.now
            expected = attrs.evolve(full_record(sid, principal="bob"), last_accessed_at=clock.now)
            assert load_record(raw) == expected
        assert 50_000 < await redis_client.pttl("mcp:session:p") <= 60_000  # pending keeps the short TTL
        assert await redis_client.exists(["mcp:session:missing"]) == 0
        assert await redis_client.zscore("mcp:sessions", "missing") is None


async def test_prefixes_keep_stores_apart_and_clear_removes_only_its_own_keys(
    redis_url: str, redis_client: Any
) -> None:
    await redis_client.set("unrelated", "1")
    await redis_client.set("a:stream:s1", "not the session store's")
    a = RedisSessionStore.from_url(redis_url, prefix="a:", policy=POLICY)
    b = RedisSessionStore.from_url(redis_url, prefix="b:", policy=POLICY)
    async with a, b:
        for store in (a, b):
            await store.set(full_record("same-id", principal="carol"))
            await store.set(full_record("only-one", principal=None))
        await a.delete("only-one")
        assert await a.count() == 1
        assert await b.count() == 2
        assert [k for k in await all_keys(redis_client) if k.startswith("a:")] == [
            "a:session:same-id",
            "a:sessions",
            "a:stream:s1",
            "a:user:carol:sessions",
        ]

        await redis_client.config_resetstat()
        await a.clear()
        assert await live_ids(b) == ["only-one", "same-id"]
        assert await b.list_for_user("carol") == ["same-id"]
        assert await all_keys(redis_client) == [
            "a:stream:s1",
            "b:session:only-one",
            "b:session:same-id",
            "b:sessions",
            "b:user:carol:sessions",
            "unrelated",
        ]
        assert "keys" not in await commandstats(redis_client)  # SCAN/ZSCAN only


async def test_count_sweeps_the_index(redis_url: str, redis_client: Any) -> None:
    clock = FakeClock()
    async with RedisSessionStore.from_url(redis_url, policy=POLICY, clock=clock) as store:
        await store.set(SessionRecord(session_id="live", status="active"))
        await redis_client.zadd("mcp:sessions", {"ghost": clock.now - 1})  # its key expired long ago
        assert await store.count() == 1
        assert await redis_client.zscore("mcp:sessions", "ghost") is None
        assert await live_ids(store) == ["live"]


async def test_cleanup_expired_sweeps_the_index_and_every_user_index_with_scan(
    redis_url: str, redis_client: Any
) -> None:
    clock = FakeClock()
    other = RedisSessionStore.from_url(redis_url, prefix="other:", policy=POLICY, clock=clock)
    async with RedisSessionStore.from_url(redis_url, policy=POLICY, clock=clock) as store, other:
        for sid, principal in (("old-a", "alice"), ("old-b", "bob"), ("old-n", None)):
            await store.set(SessionRecord(session_id=sid, principal=principal), ttl=10)
        await store.set(SessionRecord(session_id="live-a", principal="alice", status="active"))
        await other.set(SessionRecord(session_id="theirs", principal="bob"), ttl=10)
        clock.now += 11  # the three short ones expired (their zset entries stay until a sweep)
        await redis_client.config_resetstat()

        assert await store.cleanup_expired() == 3
        assert await redis_client.zrange("mcp:sessions", 0, -1) == ("live-a",)
        assert await redis_client.zrange("mcp:user:alice:sessions", 0, -1) == ("live-a",)
        assert await redis_client.exists(["mcp:user:bob:sessions"]) == 0  # an emptied zset is gone
        assert await redis_client.zrange("other:user:bob:sessions", 0, -1) == ("theirs",)  # another prefix
        assert await redis_client.zrange("other:sessions", 0, -1) == ("theirs",)
        stats = await commandstats(redis_client)
        assert "keys" not in stats
        assert stats["scan"] >= 1
        assert await store.cleanup_expired() == 0
        assert await store.list_for_user("alice") == ["live-a"]


async def test_an_unreadable_record_is_moved_aside(
    redis_url: str, redis_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="trio_mcp.stores.redis")
    async with RedisSessionStore.from_url(redis_url, policy=POLICY) as store:
        await redis_client.set("mcp:session:bad", '{"sessionId": "bad", "status": 42}')
        await redis_client.zadd("mcp:sessions", {"bad": time.time() + 100})
        assert await store.get("bad") is None
        assert not await store.has("bad")
        assert await redis_client.get("mcp:corrupt:bad") == '{"sessionId": "bad", "status": 42}'
        assert await store.count() == 0
    warning = next(r.getMessage() for r in caplog.records if "unreadable" in r.getMessage())
    assert "mcp:session:bad" in warning
    assert "mcp:corrupt:bad" in warning


async def test_use_before_open_is_a_clear_error(redis_url: str) -> None:
    store = RedisSessionStore.from_url(redis_url)
    with pytest.raises(
        RuntimeError,
        match=r"RedisSessionStore is not open: enter it with `async with` or call `await open\(\)`",
    ):
        await store.get("a")


@pytest.mark.filterwarnings(REDIS_DOWN_WARNING)
async def test_operations_fail_fast_while_redis_is_down_and_recover(
    redis_server: RedisServer, redis_url: str
) -> None:
    store = RedisSessionStore.from_url(redis_url, policy=POLICY)
    async with store:
        await store.set(SessionRecord(session_id="before", status="active"))
        redis_server.stop()
        try:
            operations = {
                "get": lambda: store.get("before"),
                "set": lambda: store.set(SessionRecord(session_id="x")),
                "delete": lambda: store.delete("before"),
                "has": lambda: store.has("before"),
                "touch": lambda: store.touch(["before"]),
                "count": store.count,
                "list_for_user": lambda: store.list_for_user("u"),
                "clear": store.clear,
                "cleanup_expired": store.cleanup_expired,
            }
            for action, operation in operations.items():
                with pytest.raises(StoreUnavailable) as info:
                    await operation()
                message = str(info.value)
                assert message.startswith(f"Redis at {redis_url} is unavailable ({action}): "), message
                assert "Connection refused" in message or "connection" in message.lower(), message
            with pytest.raises(StoreUnavailable, match=r"is unavailable \(keys\)"):
                await live_ids(store)
        finally:
            redis_server.start()
        # Same store instance, no reopening: it reconnects by itself (the restarted server is empty).
        assert await store.get("before") is None
        await store.set(SessionRecord(session_id="after", status="active"))
        assert await store.has("after")
        assert await store.count() == 1


@pytest.mark.filterwarnings(REDIS_DOWN_WARNING)
async def test_a_store_opened_while_redis_is_down_works_once_it_is_up(
    redis_server: RedisServer, redis_url: str
) -> None:
    redis_server.stop()
    try:
        store = RedisSessionStore.from_url(redis_url, policy=POLICY)
        await store.open()  # the app starts anyway
        with pytest.raises(StoreUnavailable):
            await store.count()
    finally:
        redis_server.start()
    try:
        await store.set(SessionRecord(session_id="a"))
        assert await store.count() == 1
    finally:
        await store.aclose()


async def test_a_frozen_server_times_out(redis_server: RedisServer, redis_url: str) -> None:
    async with RedisSessionStore.from_url(redis_url, policy=POLICY, timeout=0.3) as store:
        await store.set(SessionRecord(session_id="a"))
        redis_server.pause()
        try:
            with pytest.raises(StoreUnavailable, match=r"is unavailable \(get\): .*timed out"):
                await store.get("a")
        finally:
            redis_server.resume()
        assert await store.has("a")


@pytest.mark.filterwarnings(REDIS_DOWN_WARNING)
async def test_the_password_never_appears_in_errors() -> None:
    url = f"redis://user:s3cret@127.0.0.1:{free_port()}/0"
    async with RedisSessionStore.from_url(url) as store:
        with pytest.raises(StoreUnavailable) as info:
            await store.get("a")
    message = str(info.value)
    assert "s3cret" not in message
    assert "redis://user:***@127.0.0.1:" in message
    assert "s3cret" not in repr(store)


def test_redact_url() -> None:
    assert _redis.redact_url("redis://h:6379/0") == "redis://h:6379/0"
    assert _redis.redact_url("redis://:pw@h:6379/2") == "redis://:***@h:6379/2"
    assert _redis.redact_url("rediss://u:pw@[::1]:6380/0?x=1") == "rediss://u:***@[::1]:6380/0?x=1"


async def test_failed_connections_leak_no_streams() -> None:
    """coredis creates six anyio memory streams per connection attempt and closes them only on success.

    trio_mcp._redis closes them itself; if coredis renames the attributes this test fails.
    """
    from coredis.connection import TCPConnection, TCPLocation

    connection = TCPConnection(TCPLocation("127.0.0.1", 1))
    for name in _redis._CONNECTION_STREAMS:
        assert hasattr(connection, name), f"coredis no longer has BaseConnection.{name}"
    _redis._close_streams(connection)
    del connection

    unraisable: list[Any] = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async with RedisSessionStore.from_url(f"redis://127.0.0.1:{free_port()}/0") as store:
                for _ in range(5):
                    with pytest.raises(StoreUnavailable):
                        await store.get("a")
            gc.collect()
    finally:
        sys.unraisablehook = old_hook
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert unraisable == []


async def test_one_connection_can_be_shared_and_closed_by_its_last_user(redis_url: str) -> None:
    conn = _redis.RedisConnection(redis_url, unavailable=StoreUnavailable)
    a = RedisSessionStore(conn, prefix="a:")
    b = RedisSessionStore(conn, prefix="b:")
    async with a:
        async with b:
            await b.set(SessionRecord(session_id="x"))
        assert conn.is_open  # b closed, a still uses it
        assert await a.count() == 0
        assert await conn.run("ping", lambda r: r.ping()) == "PONG"
    assert not conn.is_open
    with pytest.raises(RuntimeError, match="is closed"):
        conn.client()
    await trio.lowlevel.checkpoint()
