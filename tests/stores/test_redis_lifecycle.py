"""The Redis lifecycle scripts: `activate` (`notifications/initialized`) and `end` (DELETE, revoke), each ONE
round trip, and the one-trip end put together from the three Redis backends (`RedisOneTrip`)."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import pytest
import trio
from _cluster import eventually
from _round_trips import count_round_trips

from trio_mcp._redis_lifecycle import Caller, Publication
from trio_mcp._stores.kit import full_record
from trio_mcp._stores.redis import load_record
from trio_mcp._streams.events import StoredEvent
from trio_mcp._transport.admin import RedisOneTrip, SessionAdmin
from trio_mcp.stores import ExpiryPolicy, MemorySessionStore, RedisSessionStore, SessionRecord
from trio_mcp.streams import RecordingEvents, RedisEventStore, RedisStreamManager, SessionDeleted

pytestmark = pytest.mark.redis

POLICY = ExpiryPolicy(idle_timeout=3600, pending_timeout=60)
WAIT = 10.0


def pending(sid: str, principal: str | None) -> SessionRecord:
    return attrs.evolve(full_record(sid, principal=principal), status="pending")


def counting(store: RedisSessionStore) -> list[str]:
    """The actions of every round trip the store makes from now on."""
    return count_round_trips(store.connection)


# -- activate --


async def test_activate_turns_the_record_active_in_one_round_trip(redis_url: str, redis_client: Any) -> None:
    async with RedisSessionStore.from_url(redis_url, policy=POLICY) as store:
        await store.set(pending("s1", "alice"))
        await store.activate("warm-up", None)  # loads the script
        calls = counting(store)
        record = await store.activate("s1", "alice")
        assert calls == ["activate"]
        assert record is not None
        assert record == attrs.evolve(
            full_record("s1", principal="alice"), last_accessed_at=record.last_accessed_at
        )
        assert await store.get("s1") == record
        assert 3_590_000 < await redis_client.pttl("mcp:session:s1") <= 3_600_000  # the active TTL now
        assert 3_590_000 < await redis_client.pttl("mcp:user:alice:sessions") <= 3_600_000
        raw = await redis_client.get("mcp:session:s1")
        assert raw.startswith('{"lastAccessedAt":')
        assert '"status":"active"' in raw
        assert load_record(raw) == record
        again = await store.activate("s1", "alice")  # a repeated `initialized`: a touch
        assert again is not None
        assert again.status == "active"


async def test_activate_refuses_another_principal_and_writes_nothing(
    redis_url: str, redis_client: Any
) -> None:
    async with RedisSessionStore.from_url(redis_url, policy=POLICY) as store:
        await store.set(pending("s1", "alice"))
        before = await redis_client.get("mcp:session:s1")
        assert await store.activate("s1", "mallory") is None
        assert await store.activate("s1", None) is None
        assert await redis_client.get("mcp:session:s1") == before
        assert await redis_client.pttl("mcp:session:s1") <= 60_000
        assert await store.activate("missing", None) is None
        assert await redis_client.exists(["mcp:session:missing"]) == 0
        await store.set(pending("open", None))  # bound to nobody: anyone's initialized counts
        record = await store.activate("open", "anyone")
        assert record is not None
        assert record.status == "active"


async def test_activate_of_a_record_in_an_older_layout_still_works(redis_url: str, redis_client: Any) -> None:
    """A record written before `status` came second (a rolling deploy) is activated the two-step way."""
    async with RedisSessionStore.from_url(redis_url, policy=POLICY) as store:
        old = pending("s1", "alice")
        obj = json.loads(await _dump(store, old))
        status = obj.pop("status")
        reordered = {"lastAccessedAt": obj.pop("lastAccessedAt"), **obj, "status": status}
        await redis_client.set("mcp:session:s1", json.dumps(reordered, separators=(",", ":")), px=60_000)
        record = await store.activate("s1", "alice")
        assert record is not None
        assert record.status == "active"
        stored = await store.get("s1")
        assert stored is not None
        assert stored.status == "active"
        assert await redis_client.pttl("mcp:session:s1") > 3_500_000


async def test_activate_moves_an_unreadable_record_aside(redis_url: str, redis_client: Any) -> None:
    async with RedisSessionStore.from_url(redis_url, policy=POLICY) as store:
        await redis_client.set("mcp:session:bad", "{not json")
        assert await store.activate("bad", None) is None
        assert await redis_client.exists(["mcp:session:bad"]) == 0
        assert await redis_client.get("mcp:corrupt:bad") == "{not json"


async def _dump(store: RedisSessionStore, record: SessionRecord) -> str:
    await store.set(record)
    raw = await store.connection.run("get", lambda r: r.get(store.layout.session(record.session_id)))
    await store.delete(record.session_id)
    return str(raw)


# -- end --


async def test_end_refuses_another_principal_and_leaves_everything(redis_url: str, redis_client: Any) -> None:
    async with RedisSessionStore.from_url(redis_url, policy=POLICY) as store:
        await store.set(full_record("s1", principal="alice"))
        announce = Publication("mcp:control", "hello")
        assert await store.end("s1", caller=Caller("mallory"), announce=announce) == "refused"
        assert await store.end("s1", caller=Caller(None), announce=announce) == "refused"
        assert await store.has("s1")
        assert await store.list_for_user("alice") == ["s1"]
        assert await store.end("s1", caller=Caller("alice")) == "removed"
        assert not await store.has("s1")
        assert await redis_client.exists(["mcp:user:alice:sessions"]) == 0
        assert await redis_client.zscore("mcp:sessions", "s1") is None
        assert await store.end("s1", caller=Caller("alice")) == "absent"
        await store.set(full_record("open", principal=None))
        assert await store.end("open", caller=Caller("anyone")) == "removed"


async def test_end_of_an_unreadable_record_moves_it_aside_for_a_caller(
    redis_url: str, redis_client: Any
) -> None:
    async with RedisSessionStore.from_url(redis_url, policy=POLICY) as store:
        await redis_client.set("mcp:session:bad", "{not json")
        assert await store.end("bad", caller=Caller("alice")) == "absent"
        assert await redis_client.get("mcp:corrupt:bad") == "{not json"
        await redis_client.set("mcp:session:bad2", "{not json")
        assert await store.end("bad2", caller=None) == "removed"  # an admin ends it whatever it says
        assert await redis_client.exists(["mcp:session:bad2"]) == 0


@asynccontextmanager
async def instance(url: str, prefix: str) -> AsyncIterator[tuple[RedisStreamManager, RecordingEvents]]:
    manager = RedisStreamManager.from_url(url, prefix=prefix, heartbeat_interval=60.0)
    events = RecordingEvents()
    async with trio.open_nursery() as nursery:
        await nursery.start(manager.run, events)
        try:
            async with manager:
                yield manager, events
        finally:
            nursery.cancel_scope.cancel()


def deletions(events: RecordingEvents) -> list[Any]:
    return [e for e in events.broadcasts if isinstance(e, SessionDeleted)]


async def test_the_one_trip_end_removes_the_logs_and_reaches_every_instance(
    redis_url: str, redis_client: Any
) -> None:
    prefix = f"t-{secrets.token_hex(4)}:"
    store = RedisSessionStore.from_url(redis_url, prefix=prefix, policy=POLICY)
    async with (
        store,
        instance(redis_url, prefix) as (a, a_events),
        instance(redis_url, prefix) as (_b, b_events),
        RedisEventStore.from_url(redis_url, prefix=prefix, wakeups=a) as events,
    ):
        admin = SessionAdmin(store, a, events)
        assert isinstance(admin._one_trip, RedisOneTrip)
        await store.set(full_record("s1", principal="alice"))
        await events.record("s1", "p1", [StoredEvent(seq=1, kind="message", payload=b"{}")], owner="x")
        await events.record("s1", "p2", [StoredEvent(seq=1, kind="message", payload=b"{}")], owner="x")
        await events.park("s1", b'{"parked":1}')
        before = [k for k in await _keys(redis_client, prefix) if "{s1}" in k]
        assert len(before) == 4, before  # two logs, their set, the parked list

        assert not await admin.end("s1", "mallory")
        assert await store.has("s1")
        assert len([k for k in await _keys(redis_client, prefix) if "{s1}" in k]) == 4
        await trio.sleep(0.1)
        assert deletions(b_events) == []
        assert deletions(a_events) == []

        await admin.end("warm-up", "alice")  # loads the script
        calls = counting(store)
        assert await admin.end("s1", "alice")
        assert calls == ["end"]
        assert [k for k in await _keys(redis_client, prefix) if "s1" in k] == []  # record, index, logs
        assert await redis_client.zscore(f"{prefix}sessions", "s1") is None
        assert deletions(a_events) == [SessionDeleted(session="s1")]  # the sender's own copy, at once
        await eventually(lambda: bool(deletions(b_events)), "instance B did not hear the SessionDeleted")
        await trio.sleep(0.1)
        assert deletions(b_events) == [SessionDeleted(session="s1")]
        assert deletions(a_events) == [SessionDeleted(session="s1")]  # its own pump ignored it (origin)

        # An admin's revoke of an absent record still announces it (every stream of the id closes).
        assert not await admin.revoke("gone")
        await eventually(
            lambda: SessionDeleted(session="gone") in deletions(b_events), "the revoke was not announced"
        )


async def _keys(client: Any, prefix: str) -> list[str]:
    keys: list[str] = []
    cursor = None
    while cursor != 0:
        cursor, page = await client.scan(cursor=cursor or 0, match=f"{prefix}*", count=1000)
        keys.extend(page)
    return sorted(keys)


async def test_the_one_trip_needs_every_backend_on_the_same_redis(redis_url: str) -> None:
    store = RedisSessionStore.from_url(redis_url, policy=POLICY)
    streams = RedisStreamManager.from_url(redis_url)
    other = redis_url.rsplit("/", 1)[0] + "/1"
    assert RedisOneTrip.of(store, streams, None) is not None
    assert RedisOneTrip.of(store, streams, RedisEventStore.from_url(redis_url)) is not None
    assert RedisOneTrip.of(store, streams, RedisEventStore.from_url(other)) is None
    assert RedisOneTrip.of(store, RedisStreamManager.from_url(other), None) is None
    assert RedisOneTrip.of(MemorySessionStore(), streams, None) is None
