"""The one stream-manager conformance kit, run against every backend (and against broken ones)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from trio_mcp.streams import MemoryStreamManager, RedisStreamManager, StreamManager, check_stream_manager


async def test_memory_manager_passes_the_kit() -> None:
    @asynccontextmanager
    async def factory() -> AsyncIterator[StreamManager]:
        yield MemoryStreamManager()

    # One MemoryStreamManager is one process-local backend: the kit runs its checks with one manager in
    # both roles and leaves out only the two-instance section (documented in the kit).
    await check_stream_manager(factory, shares_backend=False)


@pytest.mark.redis
async def test_redis_manager_passes_the_kit(redis_url: str) -> None:
    @asynccontextmanager
    async def factory() -> AsyncIterator[StreamManager]:
        yield RedisStreamManager.from_url(redis_url, prefix="kit:", heartbeat_interval=1.0)

    await check_stream_manager(factory, shares_backend=True)


@pytest.mark.redis
async def test_redis_manager_passes_the_kit_single_instance(redis_url: str) -> None:
    # The same subset the memory backend runs (sender and holder are one manager): the local shortcuts.
    counter = itertools.count()

    @asynccontextmanager
    async def factory() -> AsyncIterator[StreamManager]:
        yield RedisStreamManager.from_url(redis_url, prefix=f"kit{next(counter)}:", heartbeat_interval=1.0)

    await check_stream_manager(factory, shares_backend=False)


class DeafToItself(MemoryStreamManager):
    async def broadcast(self, event: dict[str, object]) -> None:
        return  # forgets the sender's own instance


class Unbounded(MemoryStreamManager):
    def subscribe(self, session_id: str, capacity: int, *, slow_timeout: float = 3.0):  # type: ignore[override]
        return super().subscribe(session_id, 1000)  # ignores the capacity: a lagging client grows memory


class NeverDropsALaggingStream(MemoryStreamManager):
    def subscribe(self, session_id: str, capacity: int, *, slow_timeout: float = 3.0):  # type: ignore[override]
        return super().subscribe(session_id, capacity, slow_timeout=1e9)


class DropsOnABurst(MemoryStreamManager):
    def subscribe(self, session_id: str, capacity: int, *, slow_timeout: float = 3.0):  # type: ignore[override]
        return super().subscribe(session_id, capacity, slow_timeout=0.0)


class BlocksOnFullBuffer(MemoryStreamManager):
    async def publish(self, session_id: str, payload: bytes) -> bool:
        buffer = self._streams.get(session_id)
        while buffer is not None and buffer.statistics().current_buffer_used >= buffer.capacity:
            await trio.sleep(0.01)  # waits for the slowest client: the publisher is blocked
        return await super().publish(session_id, payload)


class RoutesNeverConsumed(MemoryStreamManager):
    async def forward_reply(self, session_id: str, request_id: str | int, payload: bytes) -> bool:
        ok = await super().forward_reply(session_id, request_id, payload)
        if ok:
            await self.set_route(session_id, request_id)
        return ok


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (DeafToItself, r"\[DeafToItself / events\] a broadcast did not reach manager #0's on_broadcast"),
        (Unbounded, r"\[Unbounded / slow consumer\] subscribe\(4\) made a buffer of capacity 1000"),
        (
            NeverDropsALaggingStream,
            r"\[NeverDropsALaggingStream / slow consumer\] the lagging stream was not dropped",
        ),
        (
            DropsOnABurst,
            r"\[DropsOnABurst / slow consumer\] (the burst did not all reach|a stream was dropped)",
        ),
        (BlocksOnFullBuffer, r"\[BlocksOnFullBuffer / slow consumer\] the publisher was blocked"),
        (RoutesNeverConsumed, r"\[RoutesNeverConsumed / routes\] a second forward_reply\(\)"),
    ],
)
async def test_the_kit_catches_a_broken_manager(broken: type[MemoryStreamManager], message: str) -> None:
    @asynccontextmanager
    async def factory() -> AsyncIterator[StreamManager]:
        yield broken()

    with pytest.raises(AssertionError, match=message):
        await check_stream_manager(factory, shares_backend=False, wait=1.0)
