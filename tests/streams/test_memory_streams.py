"""MemoryStreamManager details the kit does not pin: route expiry keeps the route table bounded."""

from __future__ import annotations

import trio
import trio.testing

from trio_mcp._streams._base import ROUTE_TTL
from trio_mcp.streams import MemoryStreamManager, RecordingEvents


async def test_routes_expire_like_redis_keys(autojump_clock: trio.testing.MockClock) -> None:
    manager = MemoryStreamManager()
    events = RecordingEvents()
    async with trio.open_nursery() as nursery:
        await nursery.start(manager.run, events)
        await manager.set_route("s", "a-1")
        await trio.sleep(ROUTE_TTL + 1)
        assert not await manager.forward_reply("s", "a-1", b"{}")  # expired: nobody waits any more
        # Replies delivered locally never consume their route: expired ones are pruned as new ones come.
        for n in range(1000):
            await manager.set_route("s", f"b-{n}")
            await trio.sleep(ROUTE_TTL / 100)
        assert len(manager._routes) <= 101
        assert await manager.forward_reply("s", "b-999", b"{}")
        assert events.replies == [("s", b"{}")]
        nursery.cancel_scope.cancel()
