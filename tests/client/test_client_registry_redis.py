"""RedisClientRegistry specifics: the key layout under mcp-client:, TTLs, sharing Redis with servers, outages."""

from __future__ import annotations

import logging
import math

import pytest
from _redis_server import RedisServer, free_port

from trio_mcp._client.registry.kit import KitClock, http_record
from trio_mcp.client_sessions import ClientRegistryUnavailable, RedisClientRegistry
from trio_mcp.stores import RedisSessionStore, SessionRecord

pytestmark = pytest.mark.redis


def keys_of(server: RedisServer, pattern: str = "*") -> list[str]:
    found = server.command("KEYS", pattern)  # the test may use KEYS; the registry never does
    assert isinstance(found, list)
    return sorted(k.decode() for k in found if isinstance(k, bytes))


def pttl(server: RedisServer, key: str) -> int:
    value = server.command("PTTL", key)
    assert isinstance(value, int)
    return value


async def test_the_key_layout_and_its_ttls(redis_url: str, redis_server: RedisServer) -> None:
    async with RedisClientRegistry.from_url(redis_url, pending_ttl=600, dormant_age=86_400) as registry:
        await registry.create(http_record("s:1/ü", user_id="alice@example.com:x"))
        assert keys_of(redis_server) == [
            "mcp-client:by-user:alice%40example.com%3Ax",
            "mcp-client:record:alice%40example.com%3Ax:s%3A1%2F%C3%BC",
            "mcp-client:records",
        ]
        key = registry.layout.session("alice@example.com:x", "s:1/ü")
        user_key = registry.layout.user("alice@example.com:x")
        assert 590_000 < pttl(redis_server, key) <= 600_000  # pending: the OAuth window
        assert 590_000 < pttl(redis_server, user_key) <= 601_000
        assert pttl(redis_server, "mcp-client:records") == -1  # the index has no TTL (cleanup sweeps it)
        await registry.update("alice@example.com:x", "s:1/ü", status="active")
        assert 86_000_000 < pttl(redis_server, key) <= 86_400_000  # active: until dormant
        assert 86_000_000 < pttl(redis_server, user_key) <= 86_401_000
        assert await registry.list_all_ids() == [("alice@example.com:x", "s:1/ü")]


async def test_infinite_lifetimes_set_no_ttl(redis_url: str, redis_server: RedisServer) -> None:
    async with RedisClientRegistry.from_url(redis_url, dormant_age=math.inf) as registry:
        await registry.create(http_record("forever", status="active"))
        await registry.create(http_record("pending"))  # a shorter member must not expire the user's index
        assert pttl(redis_server, registry.layout.session("alice", "forever")) == -1
        assert pttl(redis_server, registry.layout.user("alice")) == -1
        assert sorted(await registry.list_ids("alice")) == ["forever", "pending"]


@pytest.mark.parametrize("prefix", ["mcp-client:", "mcp:"])
async def test_it_shares_redis_with_a_server_store(
    redis_url: str, redis_server: RedisServer, prefix: str
) -> None:
    # Even under the servers' own prefix, neither side's keys or clear() patterns touch the other's.
    async with (
        RedisClientRegistry.from_url(redis_url, prefix=prefix) as registry,
        RedisSessionStore.from_url(redis_url) as store,
    ):
        await registry.create(http_record("client-side"))
        await store.set(SessionRecord(session_id="server-side", principal="alice"))
        await store.clear()
        assert await registry.list_ids("alice") == ["client-side"]
        await store.set(SessionRecord(session_id="server-side", principal="alice"))
        await registry.clear_all()
        assert await store.get("server-side") is not None
        assert await store.list_for_user("alice") == ["server-side"]
        assert await store.count() == 1
        assert keys_of(redis_server) == ["mcp:session:server-side", "mcp:sessions", "mcp:user:alice:sessions"]


async def test_another_instance_sees_the_records(redis_url: str) -> None:
    async with (
        RedisClientRegistry.from_url(redis_url) as first,
        RedisClientRegistry.from_url(redis_url) as second,
    ):
        await first.create(http_record("s1", auth={"tokens": {"access_token": "t"}}))
        got = await second.get("alice", "s1")
        assert got is not None
        assert got.auth == {"tokens": {"access_token": "t"}}
        await second.update("alice", "s1", status="active", mcp_session_id="m")
        again = await first.get("alice", "s1")
        assert again is not None
        assert (again.status, again.mcp_session_id) == ("active", "m")


async def test_cleanup_removes_expired_records_and_index_entries(
    redis_url: str, redis_server: RedisServer
) -> None:
    clock = KitClock()
    async with RedisClientRegistry.from_url(redis_url, pending_ttl=60, clock=clock) as registry:
        for n in range(3):
            await registry.create(http_record(f"p{n}", user_id=f"u{n}"))
        await registry.create(http_record("live", user_id="u0", status="active"))
        clock.advance(61)
        assert await registry.cleanup_expired() == 3
        assert keys_of(redis_server) == [
            "mcp-client:by-user:u0",
            "mcp-client:record:u0:live",
            "mcp-client:records",
        ]
        members = redis_server.command("ZRANGE", "mcp-client:by-user:u0", 0, -1)
        assert members == [b"live"]
        assert await registry.cleanup_expired() == 0


async def test_an_unreadable_record_is_ignored_not_deleted(
    redis_url: str, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "trio_mcp.client.registry")
    async with RedisClientRegistry.from_url(redis_url) as registry:
        await registry.create(http_record("s1"))
        key = registry.layout.session("alice", "s1")
        redis_server.command("SET", key, "{garbage")
        assert await registry.get("alice", "s1") is None
        assert await registry.list("alice") == []
        assert "unreadable client session record" in caplog.text
        assert redis_server.command("GET", key) == b"{garbage"
        fresh = await registry.create(http_record("s1"))  # takes the place of exactly that text
        assert await registry.get("alice", "s1") == fresh


async def test_redis_down_is_unavailable_without_the_password() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    async with RedisClientRegistry.from_url(url, timeout=0.5) as registry:
        with pytest.raises(
            ClientRegistryUnavailable, match=r"Redis at redis://:\*\*\*@127\.0\.0\.1"
        ) as caught:
            await registry.get("alice", "s1")
        assert "hunter2" not in str(caught.value)
