"""cleanup_expired on the in-process stores: exactly the expired sessions go, now (Redis: test_redis_store)."""

from __future__ import annotations

import json
from pathlib import Path

import trio

from trio_mcp.stores import ExpiryPolicy, FileSessionStore, MemorySessionStore, SessionRecord

POLICY = ExpiryPolicy(idle_timeout=3600, pending_timeout=60)


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_the_memory_store_removes_exactly_the_expired(autojump_clock: trio.testing.MockClock) -> None:
    store = MemorySessionStore(policy=POLICY)
    await store.set(SessionRecord(session_id="pending", principal="alice"))  # 60 s
    await store.set(SessionRecord(session_id="short", status="active"), ttl=5)
    await store.set(SessionRecord(session_id="active", principal="alice", status="active"))
    assert await store.cleanup_expired() == 0
    await trio.sleep(61)
    assert await store.cleanup_expired() == 2
    assert await store.cleanup_expired() == 0
    assert [sid async for sid in store.keys()] == ["active"]  # noqa: SIM118 (a store, not a dict)
    assert await store.list_for_user("alice") == ["active"]


async def test_the_file_store_removes_the_expired_and_counts_what_its_load_dropped(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    clock = FakeClock()
    async with FileSessionStore(path, policy=POLICY, clock=clock) as store:
        await store.set(SessionRecord(session_id="pending", principal="alice"))
        await store.set(SessionRecord(session_id="active", principal="alice", status="active"))
        clock.now += 61
        assert await store.cleanup_expired() == 1
        assert await store.cleanup_expired() == 0
        await store.set(SessionRecord(session_id="later"))
    assert set(json.loads(path.read_text())["sessions"]) == {"active", "later"}

    # A process that opens the file after a session expired in it (`trio-mcp sessions cleanup`): the load drops
    # it, and the cleanup says so.
    clock.now += 61
    async with FileSessionStore(path, policy=POLICY, clock=clock) as store:
        assert await store.cleanup_expired() == 1
        assert await store.cleanup_expired() == 0
        assert await store.count() == 1
    assert set(json.loads(path.read_text())["sessions"]) == {"active"}
