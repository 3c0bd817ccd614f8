"""MemoryStreamManager: one process; the same semantics as Redis without the network."""

from __future__ import annotations

import secrets
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import attrs
import trio

from .._lifetime import Lifetime
from ._base import (
    DEFAULT_SLOW_STREAM_TIMEOUT,
    ROUTE_TTL,
    LocalSubscription,
    StreamBuffer,
    StreamEvents,
    offer,
)
from .control import ControlEvent


@attrs.define(eq=False)
class MemoryStreamManager(Lifetime):
    instance_id: str = attrs.field(factory=lambda: secrets.token_hex(4))
    _events: StreamEvents | None = None
    _streams: dict[str, StreamBuffer] = attrs.field(factory=dict[str, StreamBuffer])
    # (session, request id) -> expiry (trio clock); insertion order = expiry order, as every route lives ROUTE_TTL.
    _routes: dict[tuple[str, str | int], float] = attrs.field(factory=dict[tuple[str, "str | int"], float])
    _holds: int = 0  # subscribes so far: the next one's order (one process: a counter orders them)

    async def run(
        self, events: StreamEvents, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        self._events = events
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            self._events = None

    def subscribe(
        self, session_id: str, capacity: int, *, slow_timeout: float = DEFAULT_SLOW_STREAM_TIMEOUT
    ) -> LocalSubscription:
        self._holds += 1
        return LocalSubscription(self._streams, session_id, capacity, slow_timeout, order=self._holds)

    def deliver_local(self, session_id: str, payload: bytes, *, coalesce: bool = False) -> bool:
        return offer(self._streams, session_id, payload, coalesce=coalesce)

    # Each of these checkpoints, as a network backend's would: a publisher looping over them lets the streams'
    # writers run in between instead of filling every buffer in one scheduler tick.

    async def publish(self, session_id: str, payload: bytes) -> bool:
        delivered = self.deliver_local(session_id, payload)
        await trio.lowlevel.checkpoint()
        return delivered

    async def broadcast(self, event: ControlEvent) -> None:
        if self._events is not None:
            self._events.on_broadcast(event)
        await trio.lowlevel.checkpoint()

    async def set_route(self, session_id: str, request_id: str | int) -> None:
        now = trio.current_time()
        # Routes of replies delivered locally are never forwarded: expire them (bounded, like Redis' TTL).
        while self._routes and next(iter(self._routes.values())) <= now:
            del self._routes[next(iter(self._routes))]
        self._routes.pop((session_id, request_id), None)
        self._routes[(session_id, request_id)] = now + ROUTE_TTL

    async def forward_reply(self, session_id: str, request_id: str | int, payload: bytes) -> bool:
        expiry = self._routes.pop((session_id, request_id), None)
        if expiry is None or expiry <= trio.current_time() or self._events is None:
            return False
        self._events.on_reply(session_id, payload)
        return True

    async def holder(self, session_id: str) -> str | None:
        return self.instance_id if session_id in self._streams else None

    def ready(self) -> bool:
        return self._events is not None

    async def is_alive(self, instance_id: str) -> bool:
        await trio.lowlevel.checkpoint()
        return instance_id == self.instance_id and self._events is not None

    @asynccontextmanager
    async def _lifetime(self) -> AsyncGenerator[None]:
        try:
            yield
        finally:
            for buffer in self._streams.values():
                buffer.close()
            self._streams.clear()
