"""SessionManager (trio_mcp/_transport/sessions.py) over the memory backends: records read through the cache,
saved and announced; live copies held per request; touches batched; DELETE ending all of it."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_mcp._proto.jsonrpc import Notification
from trio_mcp._proto.session import CLOSED, INITIALIZING, READY
from trio_mcp._stores._base import SessionRecord, SessionStatus
from trio_mcp._stores.memory import MemorySessionStore
from trio_mcp._transport import sessions as sessions_module
from trio_mcp._transport.live_table import StandaloneStream
from trio_mcp._transport.sessions import SessionManager
from trio_mcp.streams import MemoryStreamManager, RecordingEvents, SessionChanged

SID = "s-1"
VERSION = "2025-06-18"


def manager_of(cache_ttl: float = 0.0, store: MemorySessionStore | None = None) -> SessionManager:
    return SessionManager(
        store if store is not None else MemorySessionStore(),
        MemoryStreamManager(),
        reply_timeout=1.0,
        instance_id="inst",
        cache_ttl=cache_ttl,
    )


def stored(
    *, principal: str | None = None, status: SessionStatus = "active", log_level: str = "info"
) -> SessionRecord:
    return SessionRecord(
        session_id=SID,
        principal=principal,
        status=status,
        protocol_version=VERSION,
        log_level=log_level,  # pyright: ignore[reportArgumentType]
        subscriptions=["res://a"],
        created_at=10.0,
    )


async def running(manager: SessionManager, nursery: trio.Nursery) -> RecordingEvents:
    """Run the manager's stream manager, so its broadcasts reach the returned recorder."""
    events = RecordingEvents()
    await nursery.start(manager.streams.run, events)
    return events


@pytest.mark.parametrize(
    ("owner", "caller"),
    [(None, None), ("alice", "bob"), ("alice", None)],
    ids=["unknown", "bob", "anonymous"],
)
async def test_hold_of_an_unknown_or_foreign_session_yields_nothing(
    owner: str | None, caller: str | None
) -> None:
    manager = manager_of()
    if owner is not None:
        await manager.store.set(stored(principal=owner))
    async with manager.hold(SID, caller) as live:
        assert live is None
        assert manager.live == {}
    assert manager.take_touched() == []


async def test_hold_rebuilds_a_live_copy_from_the_record() -> None:
    manager = manager_of()
    await manager.store.set(stored(principal="alice", log_level="error"))
    async with manager.hold(SID, "alice") as live:
        assert live is not None
        session = live.session
        assert manager.live == {SID: live}
        assert session.session_id == SID
        assert session.protocol.state is READY
        assert (session.protocol.protocol_version, session.protocol.log_level) == (VERSION, "error")
        assert (session.subscriptions, session.principal) == ({"res://a"}, "alice")
        assert (session.stored_status, session.created_at) == ("active", 10.0)
        assert session.protocol.id_prefix.startswith("inst.")
    assert manager.live == {}
    assert manager.take_touched() == [SID]


async def test_a_pending_record_gives_a_pending_copy() -> None:
    manager = manager_of()
    await manager.store.set(stored(status="pending"))
    async with manager.hold(SID, None) as live:
        assert live is not None
        assert live.session.protocol.state is INITIALIZING


async def test_concurrent_holds_share_one_copy_until_the_last_leaves() -> None:
    manager = manager_of()
    await manager.store.set(stored())
    async with manager.hold(SID, None) as first:
        async with manager.hold(SID, None) as second:
            assert second is first
            assert first is not None
            assert first.users == 2
        assert manager.live == {SID: first}
    assert manager.live == {}


async def test_each_new_copy_gets_request_ids_of_its_own() -> None:
    manager = manager_of()
    await manager.store.set(stored())
    prefixes: list[str] = []
    for _ in range(2):
        async with manager.hold(SID, None) as live:
            assert live is not None
            prefixes.append(live.session.protocol.id_prefix)
    assert prefixes[0] != prefixes[1]


async def test_a_stale_pending_record_does_not_undo_initialized_on_the_shared_copy() -> None:
    """Regression: a request reading the still-pending record while another request on the same copy took
    `initialized` used to restore(active=False) a READY session: LocalProtocolError, a failed request."""
    manager = manager_of()
    await manager.store.set(stored(status="pending"))
    async with manager.hold(SID, None) as first:
        assert first is not None
        first.session.protocol.receive(Notification(method="notifications/initialized"))
        async with manager.hold(SID, None) as second:
            assert second is first
            assert first.session.protocol.state is READY


@pytest.mark.parametrize(
    ("stored_status", "cache_ttl", "announced"),
    [("active", 30.0, True), ("active", 0.0, False), ("pending", 30.0, False)],
)
async def test_save_writes_the_record_and_announces_only_a_change_to_a_cached_active_one(
    nursery: trio.Nursery, stored_status: str | None, cache_ttl: float, announced: bool
) -> None:
    manager = manager_of(cache_ttl)
    events = await running(manager, nursery)
    session = manager.new_session(SID, "alice")
    session.protocol.restore(active=True, protocol_version=VERSION, log_level="debug")
    session.stored_status = stored_status
    await manager.save(session)
    record = await manager.store.get(SID)
    assert record is not None
    assert (record.status, record.principal, record.log_level) == ("active", "alice", "debug")
    assert session.stored_status == "active"
    assert session.created_at == record.created_at
    assert events.broadcasts == ([SessionChanged(session=SID)] if announced else [])


async def test_save_of_a_session_never_stored_waits_for_its_reservation(nursery: trio.Nursery) -> None:
    """HTTP runs initialize before the session takes its place under the cap: the save initialize makes
    writes nothing (no place yet), and `reserve` then writes the whole pending record in its one create."""
    manager = manager_of(30.0)
    events = await running(manager, nursery)
    session = manager.new_session(SID, "alice")
    session.protocol.restore(active=False, protocol_version=VERSION, log_level="debug")
    await manager.save(session)
    assert await manager.store.get(SID) is None
    assert await manager.reserve(session, max_sessions=10)
    record = await manager.store.get(SID)
    assert record is not None
    assert (record.status, record.principal, record.protocol_version, record.log_level) == (
        "pending",
        "alice",
        VERSION,
        "debug",
    )
    assert session.stored_status == "pending"
    assert events.broadcasts == []


async def test_save_of_a_session_before_initialize_writes_nothing(nursery: trio.Nursery) -> None:
    manager = manager_of(30.0)
    events = await running(manager, nursery)
    session = manager.new_session(SID, None)
    session.stored_status = "active"
    await manager.save(session)
    assert await manager.store.get(SID) is None
    assert events.broadcasts == []


async def test_record_serves_the_cache_until_cache_ttl_passes(autojump_clock: trio.testing.MockClock) -> None:
    manager = manager_of(cache_ttl=5.0)
    await manager.store.set(stored(log_level="info"))
    assert await log_level_read(manager) == "info"
    await manager.store.set(stored(log_level="error"))
    await trio.sleep(4.9)
    assert await log_level_read(manager) == "info"
    await trio.sleep(0.1)
    assert await log_level_read(manager) == "error"


async def test_forget_makes_the_next_read_go_to_the_store() -> None:
    manager = manager_of(cache_ttl=60.0)
    await manager.store.set(stored(log_level="info"))
    assert await log_level_read(manager) == "info"
    await manager.store.set(stored(log_level="error"))
    manager.forget(SID)
    assert await log_level_read(manager) == "error"


async def test_without_cache_ttl_every_read_goes_to_the_store() -> None:
    manager = manager_of()
    await manager.store.set(stored(log_level="info"))
    assert await log_level_read(manager) == "info"
    await manager.store.set(stored(log_level="error"))
    assert await log_level_read(manager) == "error"


async def log_level_read(manager: SessionManager) -> str | None:
    record = await manager.record(SID)
    assert record is not None
    return record.log_level


async def test_end_deletes_the_record_and_closes_the_live_copy() -> None:
    manager = manager_of(cache_ttl=60.0)
    await manager.store.set(stored())
    async with manager.hold(SID, None) as live:
        assert live is not None
        stream = live.standalone = StandaloneStream(scope=trio.CancelScope(), token="tok")
        request = live.session.in_flight[1] = trio.CancelScope()
        assert await manager.end(SID)
        assert (stream.session_ended, stream.scope.cancel_called, request.cancel_called) == (True, True, True)
        assert live.session.protocol.state is CLOSED
        assert await manager.store.get(SID) is None
        assert await manager.record(SID) is None
    assert manager.take_touched() == []
    assert not await manager.end(SID)


async def test_take_touched_includes_sessions_with_a_live_copy() -> None:
    manager = manager_of()
    session = manager.new_session(SID, None)
    async with manager.hold_new(session):
        assert manager.take_touched() == [SID]
        assert manager.take_touched() == [SID]
    assert manager.take_touched() == []


async def test_flush_touches_refreshes_the_marked_sessions_in_the_store() -> None:
    manager = manager_of(store=MemorySessionStore(clock=lambda: 42.0))
    await manager.store.set(stored())
    async with manager.hold(SID, None):
        pass
    await manager.flush_touches()
    record = await manager.store.get(SID)
    assert record is not None
    assert record.last_accessed_at == 42.0
    assert manager.take_touched() == []


def test_a_session_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A leading '-' would read as an option on the command line (`trio-mcp sessions revoke SID`)."""
    drawn = iter(["-dash-first", "plain-id"])
    monkeypatch.setattr(sessions_module.secrets, "token_urlsafe", lambda n: next(drawn))
    assert sessions_module.new_session_id() == "plain-id"
