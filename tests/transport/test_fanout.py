"""The control fan-out (trio_mcp/_transport/fanout.py): every local hub of an app gets each list_changed and
resource update, from whichever instance it came; a resource update reads the store once for all sessions."""

from __future__ import annotations

import json
from typing import Any

import attrs
import trio
from _cluster import (
    RESOURCE_UPDATED,
    TOOLS_CHANGED,
    WAIT,
    Cluster,
    eventually,
    next_message,
    open_get,
    subscribe,
)
from _rawhttp import RawConnection, Target, initialize

from examples.everything import WATCHED_RESOURCE_URI
from trio_mcp._stores._base import get_each
from trio_mcp._stores.memory import MemorySessionStore
from trio_mcp.streams import Notify, ResourceUpdated, StreamTaken


@attrs.define(eq=False)
class RecordingHub:
    """A second transport's hub (what the WebSocket transport will add): records what reaches it."""

    notified: list[str] = attrs.field(factory=list[str])
    updated: list[str] = attrs.field(factory=list[str])

    def notify_all(self, method: str) -> None:
        self.notified.append(method)

    async def resource_updated(self, uri: str) -> None:
        await trio.lowlevel.checkpoint()
        self.updated.append(uri)

    def forget(self, session_id: str) -> None:
        return None


async def test_every_hub_of_an_instance_gets_events_from_another_instance(cluster: Cluster) -> None:
    """Sent from A; B's HTTP sessions and B's second hub both get it (memory: one app is both A and B)."""
    extra = RecordingHub()
    cluster.b.control.add_hub(extra)
    session_id = await initialize(cluster.target_a)
    await subscribe(cluster.target_a, session_id, WATCHED_RESOURCE_URI)
    async with await open_get(cluster.target_b, session_id) as stream:
        await cluster.a.streams.broadcast(Notify(method=TOOLS_CHANGED))
        await next_message(stream, TOOLS_CHANGED)
        await eventually(lambda: extra.notified == [TOOLS_CHANGED], "the second hub got tools/list_changed")

        await cluster.a.streams.broadcast(ResourceUpdated(uri=WATCHED_RESOURCE_URI))
        update = await next_message(stream, RESOURCE_UPDATED)
        assert update["params"] == {"uri": WATCHED_RESOURCE_URI}
        await eventually(lambda: extra.updated == [WATCHED_RESOURCE_URI], "the second hub got the update")


@attrs.define(eq=False)
class CountingStore(MemorySessionStore):
    """The memory store, counting the reads a fan-out makes."""

    gets: int = 0
    get_manys: list[int] = attrs.field(factory=list[int])

    async def get(self, session_id: str) -> Any:
        self.gets += 1
        return await super().get(session_id)

    async def get_many(self, session_ids: Any) -> Any:
        ids = list(session_ids)
        self.get_manys.append(len(ids))
        return await get_each(super().get, ids)  # its reads are not `get` calls of the fan-out


async def first_message(stream: RawConnection) -> str:
    """The method of the next message on a GET stream (priming events, which carry no data, skipped)."""
    with trio.fail_after(WAIT):
        while True:
            event = await stream.next_event()
            assert event is not None, "the GET stream ended"
            if event.data:
                return json.loads(event.data)["method"]


async def test_a_resource_update_reads_the_store_once_for_all_sessions(start: Any) -> None:
    """Five sessions with a GET stream here (three subscribed): one get_many of the five, no get per session,
    and exactly the subscribed three are notified."""
    store = CountingStore()
    target: Target = await start(store=store)
    sessions = [await initialize(target) for _ in range(5)]
    for session_id in sessions[:3]:
        await subscribe(target, session_id, WATCHED_RESOURCE_URI)
    streams = [await open_get(target, session_id) for session_id in sessions]
    try:
        store.gets, store.get_manys = 0, []
        await target.app.hub.resource_updated(WATCHED_RESOURCE_URI)
        for stream in streams[:3]:
            update = await next_message(stream, RESOURCE_UPDATED)
            assert update["params"] == {"uri": WATCHED_RESOURCE_URI}
        assert store.get_manys == [5]
        assert store.gets == 0
        # The unsubscribed two got nothing: a list_changed sent now is the next message on their streams.
        await target.app.hub.broadcast(TOOLS_CHANGED)
        for stream in streams[3:]:
            assert await first_message(stream) == TOOLS_CHANGED
    finally:
        for stream in streams:
            await stream.aclose()


async def test_an_older_gets_stream_taken_arriving_late_leaves_the_newer_stream(cluster: Cluster) -> None:
    """Each instance announces its GET stream (`StreamTaken`) after its 200, so B's announcement of an older
    stream can reach A after A's newer stream began. The holds' orders decide: A keeps its stream, B's ends.
    (Before the orders, A ended its own new stream and B's stayed open: two streams, neither ended.)"""
    session_id = await initialize(cluster.target_a)
    old = await open_get(cluster.target_b, session_id)
    older = cluster.b._sessions.live[session_id].standalone
    assert older is not None
    assert older.order is not None
    assert older.order > 0
    new = await open_get(cluster.target_a, session_id)
    with trio.fail_after(WAIT):
        await old.read_events()  # B ended it (A's announcement, or the same app's newer GET)
    await old.aclose()
    newer = cluster.a._sessions.live[session_id].standalone
    assert newer is not None
    assert newer is not older
    assert newer.order is not None
    assert newer.order > older.order
    # B's announcement, delivered late on A:
    cluster.a.control.on_broadcast(StreamTaken(session=session_id, token=older.token, order=older.order))
    assert not newer.superseded
    await cluster.a.streams.broadcast(Notify(method=TOOLS_CHANGED))
    assert await first_message(new) == TOOLS_CHANGED
    await new.aclose()
